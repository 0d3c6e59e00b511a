from __future__ import annotations

from django.apps import AppConfig
from django.core import checks
from django.db.models.signals import post_migrate, post_save


class EmbeddingsConfig(AppConfig):
    name = "embeddings"
    verbose_name = "Embeddings"

    def ready(self) -> None:
        # Imported once the models are loaded, as Django asks of code that reaches them.
        from catalog.models import CatalogItem
        from embeddings.checks import check_embedding_model, check_provider_environment
        from embeddings.neighbours.lexical_rows import refresh_saved_item
        from embeddings.permissions import ensure_roles

        checks.register(check_embedding_model)
        checks.register(check_provider_environment)
        # Permissions are created by post_migrate handlers of every app; ours runs after them
        # because "embeddings" comes after auth and contenttypes in INSTALLED_APPS.
        post_migrate.connect(ensure_roles, sender=self, dispatch_uid="embeddings.ensure_roles")
        # An edited item's lexical row follows its text at once (imports write in bulk, without
        # signals: the next regeneration job refreshes their rows).
        post_save.connect(
            refresh_saved_item, sender=CatalogItem, dispatch_uid="embeddings.lexical_refresh"
        )
