"""What the settings and storage pages show of quality: each model's latest measurement, and
whether another is queued or under way."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from embeddings.models import QualityRun
from embeddings.quality.measure import latest_runs, pending_keys


@dataclass(frozen=True)
class ModelQuality:
    """A model's latest measurement (if any), and whether another is queued or under way."""

    model_key: str
    run: QualityRun | None
    pending: bool

    @property
    def variant(self) -> str:
        """The `@dims` part of a reduced model's key, which the settings page's row lacks."""
        return self.model_key.partition("@")[2]


def panel(model_keys: Iterable[str] = ()) -> dict[str, ModelQuality]:
    """Every measured model, plus the ones named, by model key."""
    keys = set(model_keys) | set(QualityRun.objects.values_list("model_key", flat=True).distinct())
    latest, pending = latest_runs(keys), pending_keys(keys)
    return {key: ModelQuality(key, latest.get(key), key in pending) for key in sorted(keys)}


def by_base_key(cells: dict[str, ModelQuality]) -> dict[str, list[ModelQuality]]:
    """The panel grouped the way the settings page lists models: reduced sizes with their model."""
    grouped: dict[str, list[ModelQuality]] = defaultdict(list)
    for key, cell in cells.items():
        grouped[key.partition("@")[0]].append(cell)
    return dict(grouped)
