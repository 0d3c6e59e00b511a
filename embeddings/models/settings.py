"""The single row of embedding settings (which model serves, which one is being built) and the
providers' connection details, a row per field."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import models, transaction

from embeddings.registry import default_model_key
from reclio_admin.encryption import EncryptedField


class EmbeddingSettings(models.Model):
    """The single row that says which model serves and which one is being built."""

    active_model_key = models.CharField(max_length=200, blank=True)
    building_model_key = models.CharField(max_length=200, blank=True)
    previous_model_key = models.CharField(max_length=200, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "embedding settings"
        verbose_name_plural = "embedding settings"
        permissions = [
            ("run_jobs", "Can start, cancel and resume embedding jobs"),
            ("view_neighbours", "Can view neighbours, jobs and storage"),
        ]

    def __str__(self) -> str:
        return "Embedding settings"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.pk = 1
        super().save(*args, **kwargs)

    @classmethod
    def load(cls) -> EmbeddingSettings:
        obj, _ = cls.objects.get_or_create(pk=1)
        return obj

    @classmethod
    def locked(cls) -> EmbeddingSettings:
        """The row, locked until the caller's transaction ends: a second admin (or a job's
        cut-over) waits here and then sees what the first one changed."""
        cls.load()
        return cls.objects.select_for_update().get(pk=1)

    @property
    def active_key(self) -> str:
        """The model that serves: the one an admin chose, else the environment's default."""
        return self.active_model_key or default_model_key()

    @property
    def building_key(self) -> str:
        """The model being built beside the active one; empty when no switch is under way."""
        return self.building_model_key

    def cut_over(self) -> str:
        """Make the model being built the active one (the caller saves); returns its key."""
        self.previous_model_key = self.active_key
        self.active_model_key = self.building_model_key
        self.building_model_key = ""
        return self.active_model_key


class ProviderCredential(models.Model):
    """A provider's key or address typed on the settings page, one row per field of the
    connection form (`openai_api_key`, `ollama_host`, …), so a new provider's fields need no new
    column. Stored encrypted (FIELD_ENCRYPTION_KEY), addresses too (a URL may carry a password),
    and read back in clear: a dump shows only tokens."""

    name = models.CharField(max_length=100, unique=True)
    value = EncryptedField()
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.name

    @staticmethod
    def store(values: Mapping[str, str]) -> None:
        """Keep these values by field name; an empty one removes what was stored."""
        removed = [name for name, value in values.items() if not value]
        kept = [
            ProviderCredential(name=name, value=value) for name, value in values.items() if value
        ]
        with transaction.atomic():
            ProviderCredential.objects.filter(name__in=removed).delete()
            ProviderCredential.objects.bulk_create(
                kept,
                update_conflicts=True,
                unique_fields=["name"],
                update_fields=["value", "updated_at"],
            )
