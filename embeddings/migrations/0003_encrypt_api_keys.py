"""API keys typed on the settings page are stored encrypted from now on; keys already stored
in clear are encrypted in place."""

from django.db import migrations

import reclio_admin.encryption
from reclio_admin.encryption import decrypt, encrypt_if_plain, rewrite_stored

COLUMNS = ["openai_api_key", "google_api_key"]
TABLE = "embeddings_embeddingsettings"


def _encrypt_plain(apps, schema_editor) -> None:
    rewrite_stored(schema_editor.connection, TABLE, COLUMNS, encrypt_if_plain)


def _decrypt(apps, schema_editor) -> None:
    rewrite_stored(schema_editor.connection, TABLE, COLUMNS, decrypt)


class Migration(migrations.Migration):
    dependencies = [
        ("embeddings", "0002_roles"),
    ]

    operations = [
        migrations.AlterField(
            model_name="embeddingsettings",
            name="google_api_key",
            field=reclio_admin.encryption.EncryptedField(blank=True),
        ),
        migrations.AlterField(
            model_name="embeddingsettings",
            name="openai_api_key",
            field=reclio_admin.encryption.EncryptedField(blank=True),
        ),
        migrations.RunPython(_encrypt_plain, _decrypt),
    ]
