"""Provider credentials move from columns of the settings row to rows of their own, one per
field, so that a new provider's key or address needs no new column.

Saved keys move as the tokens they are (a key no configured FIELD_ENCRYPTION_KEY opens is kept,
not lost); the addresses, stored in clear until now, are encrypted on the way.
"""

from django.db import migrations, models

import reclio_admin.encryption
from reclio_admin.encryption import decrypt, encrypt

SETTINGS = "embeddings_embeddingsettings"
CREDENTIALS = "embeddings_providercredential"
SECRETS = ["openai_api_key", "google_api_key"]
ADDRESSES = ["openai_base_url", "ollama_host"]


def _to_rows(apps, schema_editor) -> None:
    columns = SECRETS + ADDRESSES
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(columns)} FROM {SETTINGS} WHERE id = 1")
        row = cursor.fetchone() or [""] * len(columns)
        for name, value in zip(columns, row, strict=True):
            if value:
                stored = value if name in SECRETS else encrypt(value)
                cursor.execute(
                    f"INSERT INTO {CREDENTIALS} (name, value, updated_at) VALUES (%s, %s, now())",
                    [name, stored],
                )


def _to_columns(apps, schema_editor) -> None:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"SELECT name, value FROM {CREDENTIALS}")
        stored = dict(cursor.fetchall())
        values = [stored.get(name, "") for name in SECRETS]
        values += [decrypt(stored[name]) if stored.get(name) else "" for name in ADDRESSES]
        sets = ", ".join(f"{name} = %s" for name in SECRETS + ADDRESSES)
        cursor.execute(f"UPDATE {SETTINGS} SET {sets} WHERE id = 1", values)


class Migration(migrations.Migration):
    dependencies = [
        ("embeddings", "0011_row_tally"),
    ]

    operations = [
        migrations.CreateModel(
            name="ProviderCredential",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=100, unique=True)),
                ("value", reclio_admin.encryption.EncryptedField()),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
        ),
        migrations.RunPython(_to_rows, _to_columns),
        migrations.RemoveField(model_name="embeddingsettings", name="openai_api_key"),
        migrations.RemoveField(model_name="embeddingsettings", name="openai_base_url"),
        migrations.RemoveField(model_name="embeddingsettings", name="ollama_host"),
        migrations.RemoveField(model_name="embeddingsettings", name="google_api_key"),
    ]
