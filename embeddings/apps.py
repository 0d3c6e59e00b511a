from __future__ import annotations

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class EmbeddingsConfig(AppConfig):
    name = "embeddings"
    verbose_name = "Embeddings"

    def ready(self) -> None:
        from embeddings.permissions import ensure_roles

        # Permissions are created by post_migrate handlers of every app; ours runs after them
        # because "embeddings" comes after auth and contenttypes in INSTALLED_APPS.
        post_migrate.connect(ensure_roles, sender=self, dispatch_uid="embeddings.ensure_roles")
