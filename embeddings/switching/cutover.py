"""The automatic cut-over: the model being built becomes the active one once its set covers the
whole catalog and its measured quality passes the gate. Like every switch, it is written to the
admin log, as the system account (no person pressed anything)."""

from __future__ import annotations

from django.db import transaction

from embeddings import quality
from embeddings.models import EmbeddingSettings
from embeddings.registry import resolve
from embeddings.storage import total_coverage
from embeddings.switching import audit


def maybe_cut_over() -> bool:
    """Make the model being built active once its set covers the whole catalog and its measured
    quality passes the gate (a measurement still missing is queued; its task comes back here)."""
    with transaction.atomic():
        config = EmbeddingSettings.locked()
        if not config.building_key:
            return False
        key, old = config.building_key, config.active_key
        coverage = total_coverage(resolve(key))
        if not coverage.complete:
            return False
        verdict = quality.gate(key, old)
        for unmeasured in verdict.to_measure:
            quality.measure_soon(unmeasured)
        if not verdict.passes:
            return False
        config.cut_over()
        config.save()
        audit.record(
            None, f"{audit.CUT_OVER}: {old} → {key}, {key} covering {audit.covered(coverage)}", key
        )
        return True


def measure_then_cut_over(run_id: int) -> None:
    """The quality task: measure a model, then try the cut-over the measurement may be holding."""
    quality.run_measurement(run_id)
    maybe_cut_over()
