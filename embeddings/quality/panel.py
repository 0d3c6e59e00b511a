"""What the settings and storage pages show of quality: each model's latest measurement, and
whether another is queued or under way."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

from django.db.models import Count, Q

from catalog.models import CatalogItem
from embeddings.models import QualityRun, RowTally, RunStatus
from embeddings.quality.measure import latest_runs, pending_keys

# A measurement stands for the catalog until more than this share of the items it was made on
# has changed since (see `catalog_drift`).
OUT_OF_DATE_SHARE = 0.1


@dataclass(frozen=True)
class CatalogDrift:
    """How far the catalog moved since a measurement: of the `measured_on` items it was made on,
    `changed` were added, removed, or changed their embedding text or collection since."""

    measured_on: int
    changed: int

    @property
    def out_of_date(self) -> bool:
        return self.changed > OUT_OF_DATE_SHARE * self.measured_on


def catalog_drift(run: QualityRun | None) -> CatalogDrift | None:
    """What changed since a finished measurement, from one indexed count: items whose content
    changed after it (`content_changed_at`, which a trigger sets when an item is added or its
    text hash or collection changes), plus the items removed, which is what the catalog's size
    lacks: measured + added - now. An item changed twice counts once; one added and removed
    since counts nowhere. None for a measurement made before the catalog's size was kept."""
    if run is None or run.status != RunStatus.DONE or not run.catalog_items or not run.finished_at:
        return None
    since = CatalogItem.objects.filter(content_changed_at__gt=run.finished_at).aggregate(
        touched=Count("pk"), added=Count("pk", filter=Q(created_at__gt=run.finished_at))
    )
    removed = max(run.catalog_items + since["added"] - RowTally.count(CatalogItem), 0)
    return CatalogDrift(run.catalog_items, since["touched"] + removed)


@dataclass(frozen=True)
class ModelQuality:
    """A model's latest measurement (if any), and whether another is queued or under way."""

    model_key: str
    run: QualityRun | None
    pending: bool

    @cached_property
    def drift(self) -> CatalogDrift | None:
        return catalog_drift(self.run)

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
