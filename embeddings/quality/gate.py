"""Whether a model being built may take over from the serving one by itself: judged on their
latest measurements, so a broken model never cuts over unattended."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from catalog.models import CatalogItem
from embeddings.models import RunStatus
from embeddings.neighbours import blends
from embeddings.neighbours.stored import resolve_stored
from embeddings.quality.measure import latest_runs, pending_keys


@dataclass(frozen=True)
class Gate:
    """Whether a model being built may take over from the serving one by itself.

    `state`: "open" (it may), "waiting" (a measurement is missing or under way) or "held"
    (measured worse than the serving model by more than the margin, or not measurable).
    `building` and `serving` are the two franchise recalls of `blend`; `vector_building` and
    `vector_serving` the vector-only ones, when `blend` is not already vector."""

    state: str
    building: float | None = None
    serving: float | None = None
    margin: float = 0.0
    reason: str = ""
    to_measure: tuple[str, ...] = ()
    blend: str = ""
    vector_building: float | None = None
    vector_serving: float | None = None

    @property
    def passes(self) -> bool:
        return self.state == "open"


def has_ground_truth() -> bool:
    """Whether any film records a collection: without one there is nothing to measure."""
    return CatalogItem.objects.movies().exclude(collection="").exists()


def gate(building_key: str, serving_key: str) -> Gate:
    """Judge the model being built (its set complete) against the serving one.

    1. No collections in the catalog, or no vectors of the serving model: nothing to compare,
       the gate is open.
    2. Either model lacks a measurement of its current set: wait (and say which to measure).
    3. Open when the building model's recall@10 is at least the serving one's minus the margin,
       under the page's default blend and under vectors alone.
    """
    margin = settings.QUALITY_GATE_MARGIN
    serving = resolve_stored(serving_key)
    serving_rows = serving.table.objects.for_model(serving_key).count() if serving else 0
    if not serving_rows or not has_ground_truth():
        return Gate("open", margin=margin, reason="nothing to compare")
    building = resolve_stored(building_key)
    building_rows = building.table.objects.for_model(building_key).count() if building else 0
    latest = latest_runs([building_key, serving_key])
    pending = pending_keys([building_key, serving_key])
    built = latest.get(building_key)
    served = latest.get(serving_key)
    missing = []
    if built is None or (built.status == RunStatus.DONE and built.vectors != building_rows):
        missing.append(building_key)
    if served is None:
        missing.append(serving_key)
    if missing:
        return Gate(
            "waiting", margin=margin, reason=f"measuring {' and '.join(missing)}",
            to_measure=tuple(key for key in missing if key not in pending),
        )  # fmt: skip
    assert built is not None and served is not None
    for run in (built, served):
        if run.status == RunStatus.FAILED:
            return Gate(
                "held", margin=margin, reason=f"{run.model_key} could not be measured: {run.error}"
            )
    # Judged on what the similar page serves by default (hybrid once lexical rows exist); on
    # vectors when either measurement predates the lexical rows.
    blend = blends.default_blend()
    if built.score(blend) is None or served.score(blend) is None:
        blend = blends.VECTOR
    built_score, served_score = built.score(blend), served.score(blend)
    if not built_score or not served_score or not built_score.queries or not served_score.queries:
        return Gate("open", margin=margin, reason="no franchise films to compare on")
    b, s = built_score.recall_at_10, served_score.recall_at_10
    # Shared words find franchises by themselves (a model whose vectors were noise measured
    # hybrid 0.738, vector 0.022): the vectors must hold up alone as well, by the same margin.
    vb = vs = None
    built_vector, served_vector = built.score(blends.VECTOR), served.score(blends.VECTOR)
    if blend != blends.VECTOR and built_vector and served_vector:
        vb, vs = built_vector.recall_at_10, served_vector.recall_at_10
    short = []
    if b < s - margin:
        short.append(f"recall@10 {b:.3f} is below the serving model's {s:.3f}")
    if vb is not None and vs is not None and vb < vs - margin:
        short.append(f"vector-only recall@10 {vb:.3f} is below the serving model's {vs:.3f}")
    if not short:
        reason = "at least as good as the serving model"
        return Gate(
            "open", b, s, margin, reason, blend=blend, vector_building=vb, vector_serving=vs
        )
    reason = f"{' and '.join(short)} minus the margin {margin:g}"
    return Gate("held", b, s, margin, reason, blend=blend, vector_building=vb, vector_serving=vs)
