"""Finding 5 of issue 11: API keys typed on the settings page were stored in clear, so every dump
and backup carried them. They are now Fernet tokens under FIELD_ENCRYPTION_KEY."""

from __future__ import annotations

import io
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.urls import reverse

from embeddings.models import ProviderCredential
from embeddings.providers import get_provider
from embeddings.providers.credentials import saved_values
from tests.conftest import migrate_to_just_before

SMALL = "openai:text-embedding-3-small"


def raw_columns() -> tuple[str, str]:
    """What a dump of the stored OpenAI and Google keys holds."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT value FROM embeddings_providercredential WHERE name = %s),"
            " (SELECT value FROM embeddings_providercredential WHERE name = %s)",
            ["openai_api_key", "google_api_key"],
        )
        return cursor.fetchone()


@pytest.mark.django_db
def test_a_key_saved_on_the_page_is_stored_encrypted_and_still_reaches_the_provider(
    admin_client_: Client, fake_openai: Any, settings: Any
) -> None:
    settings.OPENAI_API_KEY = ""  # only the key typed into the page can reach the fake

    admin_client_.post(
        reverse("embeddings:embedding_connection"), {"openai_api_key": fake_openai.api_key}
    )

    stored, _ = raw_columns()
    assert fake_openai.api_key not in stored
    assert stored.startswith("gAAAAA")
    assert saved_values().get("openai_api_key", "") == fake_openai.api_key
    get_provider(SMALL).embed(["sent with the decrypted key"])
    assert fake_openai.requests[-1].headers["authorization"] == f"Bearer {fake_openai.api_key}"


@pytest.mark.django_db
def test_rotation_re_encrypts_with_the_new_key_and_the_old_key_can_then_go(settings: Any) -> None:
    old, new = settings.FIELD_ENCRYPTION_KEYS[0], Fernet.generate_key().decode()
    ProviderCredential.store({"google_api_key": "AIza-google-key-0123456789"})
    before = raw_columns()[1]

    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    out = io.StringIO()
    call_command("reencrypt_secrets", stdout=out)
    settings.FIELD_ENCRYPTION_KEYS = [new]

    assert "Re-encrypted 1 stored secrets" in out.getvalue()
    assert raw_columns()[1] != before
    assert saved_values().get("google_api_key", "") == "AIza-google-key-0123456789"


@pytest.mark.django_db
def test_re_encrypting_without_the_key_a_secret_was_saved_with_changes_nothing(
    settings: Any,
) -> None:
    ProviderCredential.store({"openai_api_key": "sk-saved-under-the-old-key-000"})
    before = raw_columns()

    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(CommandError, match="cannot be opened with any key"):
        call_command("reencrypt_secrets")

    assert raw_columns() == before
    # The page treats it as missing (and the log says why) instead of failing.
    assert saved_values().get("openai_api_key", "") == ""


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_migration_encrypts_keys_stored_in_clear_before_it() -> None:
    latest = migrate_to_just_before("_encrypt_api_keys")
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO embeddings_embeddingsettings (id, active_model_key, building_model_key,"
            " previous_model_key, openai_api_key, openai_base_url, ollama_host, google_api_key,"
            " updated_at) VALUES (1, '', '', '', 'sk-plain-old-key-1234567890', '', '',"
            " 'AIza-plain-google-key-12345', now()) ON CONFLICT (id) DO UPDATE SET"
            " openai_api_key = EXCLUDED.openai_api_key, google_api_key = EXCLUDED.google_api_key"
        )
    MigrationExecutor(connection).migrate(latest)

    openai_raw, google_raw = raw_columns()
    assert "sk-plain" not in openai_raw and "AIza" not in google_raw
    saved = saved_values()
    assert (saved.get("openai_api_key", ""), saved.get("google_api_key", "")) == (
        "sk-plain-old-key-1234567890",
        "AIza-plain-google-key-12345",
    )
