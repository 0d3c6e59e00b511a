"""What a switch would serve, shown before anyone confirms it: the set's coverage, its latest
measured quality (the blend the similar page serves, and vectors alone) with its age, and how the
items it has no vector for get their neighbours."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from embeddings import quality
from embeddings.models import EmbeddingSettings, QualityScore
from embeddings.neighbours import blends
from embeddings.quality import Gate, ModelQuality
from embeddings.storage import Coverage, set_coverage, stored_set_exists
from embeddings.switching.actions import SwitchRefused

NOW, ANYWAY, BACK = "now", "anyway", "back"


@dataclass(frozen=True)
class Served:
    """One model's set as it would serve: coverage, latest measurement, and its gaps."""

    key: str
    coverage: Coverage | None
    measured: ModelQuality
    blend: str  # the blend the similar page serves by default

    @property
    def blended(self) -> QualityScore | None:
        run = self.measured.run
        return run.score(self.blend) if run and run.status == "done" else None

    @property
    def vector_only(self) -> QualityScore | None:
        run = self.measured.run
        return run.score(blends.VECTOR) if run and run.status == "done" else None

    @property
    def measured_at(self) -> datetime | None:
        run = self.measured.run
        return run.finished_at if run else None

    @property
    def measured_on_fewer_vectors(self) -> bool:
        """The measurement predates vectors made since: it judged a smaller set."""
        run = self.measured.run
        return bool(run and self.coverage and run.vectors < self.coverage.covered)

    @property
    def missing(self) -> int:
        return max(self.coverage.total - self.coverage.covered, 0) if self.coverage else 0

    @property
    def gaps(self) -> str:
        """How the items without a vector of this model get neighbours while it serves."""
        if not self.missing:
            return ""
        many = f"{self.missing:,} item{'s' if self.missing != 1 else ''}"
        if self.blend == blends.HYBRID:
            return (
                f"{many} without a {self.key} vector get neighbours from shared words only "
                "(lexical), and reach other items' lists only through shared words, until "
                "their vectors are made."
            )
        return (
            f"{many} without a {self.key} vector get no neighbours at all, and appear in no "
            "other item's list, until their vectors are made (no lexical rows exist to fall "
            "back on)."
        )


@dataclass(frozen=True)
class SwitchPreview:
    """A switch as its confirmation page shows it: the set that would serve, the one that
    would stop, and the quality gate's verdict when the switch overrides it."""

    action: str
    serve: Served
    stop: Served
    gate: Gate | None

    @property
    def sets(self) -> tuple[Served, Served]:
        return self.serve, self.stop

    @property
    def confirm_value(self) -> str:
        """What the confirmation must carry: the key it was shown, so a confirmation made
        before someone else changed the switch is refused rather than applied to another."""
        return self.serve.key


def served(keys: list[str]) -> dict[str, Served]:
    measured = quality.panel(keys)
    blend = blends.default_blend()
    return {key: Served(key, set_coverage(key), measured[key], blend) for key in keys}


def preview(action: str) -> SwitchPreview:
    """What `switch_now` (action "now", or "anyway" past a held gate) or `switch_back` would
    serve; raises SwitchRefused when that switch is not on offer."""
    config = EmbeddingSettings.load()
    active = config.active_key
    if action == BACK:
        target = config.previous_model_key
        if not target:
            raise SwitchRefused("There is no previous model to switch back to.")
        if not stored_set_exists(target):
            raise SwitchRefused(f"The vectors of {target} were deleted; build it again instead.")
    else:
        target = config.building_key
        if not target:
            raise SwitchRefused("No model is being built.")
    sets = served([target, active])
    coverage = sets[target].coverage
    verdict = (
        quality.gate(target, active)
        if action != BACK and coverage is not None and coverage.complete
        else None
    )
    if action != BACK:
        action = ANYWAY if verdict is not None and verdict.state == "held" else NOW
    return SwitchPreview(action, sets[target], sets[active], verdict)
