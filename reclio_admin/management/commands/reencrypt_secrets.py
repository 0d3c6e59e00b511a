"""Encrypt every stored secret again with the newest FIELD_ENCRYPTION_KEY, after a rotation."""

from __future__ import annotations

from typing import Any

from cryptography.fernet import InvalidToken
from django.apps import apps
from django.core.management.base import CommandError
from django.db import connection, transaction

from reclio_admin.commands import DatabaseCommand
from reclio_admin.encryption import EncryptedField, rewrite_stored, rotate


class Command(DatabaseCommand):
    help = (
        "Re-encrypt stored API keys with the first key of FIELD_ENCRYPTION_KEY, so that older "
        "keys can then be dropped from the list. Changes nothing if any value cannot be opened."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        count = 0
        try:
            with transaction.atomic():
                for model in apps.get_models():
                    columns = [
                        f.attname for f in model._meta.fields if isinstance(f, EncryptedField)
                    ]
                    if columns:
                        count += rewrite_stored(connection, model._meta.db_table, columns, rotate)
        except InvalidToken:
            raise CommandError(
                "A stored secret cannot be opened with any key of FIELD_ENCRYPTION_KEY: add the "
                "key it was saved with to the list and run this again. Nothing was changed."
            ) from None
        self.stdout.write(f"Re-encrypted {count} stored secrets with the newest key.")
