"""The automatic cut-over: the model being built becomes the active one once its set covers the
whole catalog and its measured quality passes the gate."""

from __future__ import annotations

from django.db import transaction

from embeddings import quality
from embeddings.models import EmbeddingSettings
from embeddings.registry import resolve
from embeddings.storage import total_coverage


def maybe_cut_over() -> bool:
    """Make the model being built active once its set covers the whole catalog and its measured
    quality passes the gate (a measurement still missing is queued; its task comes back here)."""
    with transaction.atomic():
        config = EmbeddingSettings.locked()
        if not config.building_key:
            return False
        if not total_coverage(resolve(config.building_key)).complete:
            return False
        verdict = quality.gate(config.building_key, config.active_key)
        for key in verdict.to_measure:
            quality.measure_soon(key)
        if not verdict.passes:
            return False
        config.cut_over()
        config.save()
        return True


def measure_then_cut_over(run_id: int) -> None:
    """The quality task: measure a model, then try the cut-over the measurement may be holding."""
    quality.run_measurement(run_id)
    maybe_cut_over()
