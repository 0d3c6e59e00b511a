"""The single row of embedding settings: which model serves, which one is being built, and the
providers' connection details."""

from __future__ import annotations

from typing import Any

from django.db import models

from embeddings.registry import default_model_key
from reclio_admin.encryption import EncryptedField


class EmbeddingSettings(models.Model):
    """The single row that says which model serves and which one is being built."""

    active_model_key = models.CharField(max_length=200, blank=True)
    building_model_key = models.CharField(max_length=200, blank=True)
    previous_model_key = models.CharField(max_length=200, blank=True)
    # Stored encrypted (FIELD_ENCRYPTION_KEY); read back in clear. A dump shows only tokens.
    openai_api_key = EncryptedField(blank=True)
    openai_base_url = models.CharField(max_length=500, blank=True)
    ollama_host = models.CharField(max_length=500, blank=True)
    google_api_key = EncryptedField(blank=True)
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
