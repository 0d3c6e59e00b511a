"""Secrets at rest. API keys typed on the settings page are stored as Fernet tokens (AES-128-CBC
with an HMAC), so a database dump or backup carries no key in clear.

The keys come from FIELD_ENCRYPTION_KEY: one or more Fernet keys separated by commas, the
newest first. Every key in the list decrypts; only the first encrypts. Rotating is: put a new
key in front, restart, run `manage.py reencrypt_secrets`, then drop the old key. With the
variable unset, a key derived from SECRET_KEY is used (fine for a local run; set your own in
production, since rotating SECRET_KEY would otherwise make the stored keys unreadable).
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models

log = logging.getLogger(__name__)

# Every Fernet token starts with its version byte 0x80, base64-encoded.
TOKEN_PREFIX = "gAAAAA"


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys])


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt(text: str) -> str:
    return fernet().encrypt(text.encode("utf-8")).decode("ascii") if text else ""


def decrypt(token: str) -> str:
    """The plain text, or InvalidToken when no configured key opens it."""
    return fernet().decrypt(token.encode("ascii")).decode("utf-8") if token else ""


def rotate(token: str) -> str:
    """The same secret, encrypted again with the newest key."""
    return fernet().rotate(token.encode("ascii")).decode("ascii") if token else ""


class EncryptedField(models.TextField[str, str]):
    """A text column whose value is stored encrypted and read back in clear.

    A stored value no configured key can open reads as empty, with an error in the log naming
    the column: the page then shows the key as missing and asks for it again, rather than every
    page failing."""

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if not value:
            return value
        try:
            return decrypt(value)
        except (InvalidToken, ValueError):
            log.error(
                "The stored %s cannot be decrypted with FIELD_ENCRYPTION_KEY: enter it again, "
                "or add the key it was saved with",
                self.name,
            )
            return ""

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        return encrypt(value) if value else value


def rewrite_stored(connection: Any, table: str, columns: list[str], change: Any) -> int:
    """Apply `change(token_or_text) -> str` to the raw stored values of these columns (raw SQL,
    since the model's field would decrypt them); returns how many values changed."""
    changed = 0
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, {', '.join(columns)} FROM {table}")
        for row_id, *values in cursor.fetchall():
            new = [change(value) if value else value for value in values]
            if new != values:
                changed += sum(a != b for a, b in zip(new, values, strict=True))
                sets = ", ".join(f"{column} = %s" for column in columns)
                cursor.execute(f"UPDATE {table} SET {sets} WHERE id = %s", [*new, row_id])
    return changed


def encrypt_if_plain(value: str) -> str:
    """A token of a configured key stays; anything else is plain text, encrypted now."""
    try:
        decrypt(value)
    except (InvalidToken, ValueError):
        return encrypt(value)
    return value
