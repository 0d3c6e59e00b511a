"""Which model serves: the active set keeps answering while a new one is built beside it."""

from __future__ import annotations

from django.db import transaction

from embeddings.models import EmbeddingSettings
from embeddings.registry import default_model_key
from embeddings.storage import total_coverage


def active_model_key() -> str:
    return EmbeddingSettings.load().active_model_key or default_model_key()


def maybe_cut_over() -> bool:
    """Make the model being built active once its set covers the whole catalog."""
    with transaction.atomic():
        config = EmbeddingSettings.objects.select_for_update().filter(pk=1).first()
        if config is None or not config.building_model_key:
            return False
        if not total_coverage(config.building_model_key).complete:
            return False
        config.previous_model_key = config.active_model_key
        config.active_model_key = config.building_model_key
        config.building_model_key = ""
        config.save()
        return True
