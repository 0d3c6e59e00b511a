"""What switching to a model costs, computed from the real catalog: tokens, money, storage and
time. Everything comes from aggregates (cached token counts, table sizes, finished jobs), so
the settings page stays cheap on a large catalog."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import F, FloatField, Sum
from django.db.models.functions import Cast

from catalog.models import CatalogItem
from embeddings.models import EmbeddingJob, RowTally
from embeddings.providers import PROVIDERS
from embeddings.registry import MODELS, ModelSpec, ResolvedModel, resolve, vector_bytes
from embeddings.storage import table_usage
from embeddings.switching.tokens import TokenTotal, catalog_tokens

LIBRARY_SIZES = (500, 2_000, 10_000)
# Vectors plus the HNSW index, when no stored set exists to measure: the index keeps a copy of
# every vector and its neighbour links, so about twice the raw vectors.
DEFAULT_INDEX_FACTOR = 2.2
# Below this many rows a table's size is mostly empty pages, not a measure of a row.
MEASURE_MIN_ROWS = 1_000


@dataclass(frozen=True)
class Storage:
    bytes: int
    basis: str  # how it was worked out, shown beside the number


@dataclass(frozen=True)
class Duration:
    seconds: float | None
    basis: str


@dataclass(frozen=True)
class Estimate:
    spec: ModelSpec
    key: str
    dimensions: int
    items: int
    tokens: TokenTotal | None
    cost: Decimal | None
    library_costs: list[tuple[int, Decimal | None]]
    storage: Storage | None  # None for the model that turns embeddings off
    duration: Duration


def table_sizes() -> dict[int, tuple[int, int]]:
    """Rows and total bytes (table, TOAST and indexes) of every embedding table."""
    return {usage.dimensions: (usage.rows, usage.total_bytes) for usage in table_usage()}


def storage_for(dimensions: int, items: int, sizes: dict[int, tuple[int, int]]) -> Storage:
    """Measured bytes per row of this model's table when it holds enough rows; else the raw
    vectors scaled by what another table measures (or a default) for the row and index overhead."""
    rows, size = sizes.get(dimensions, (0, 0))
    if rows >= MEASURE_MIN_ROWS:
        return Storage(round(size / rows * items), f"measured on the {dimensions}-dimension table")
    raw = items * vector_bytes(dimensions)
    for dims, (other_rows, other_size) in sizes.items():
        if other_rows >= MEASURE_MIN_ROWS:
            factor = other_size / (other_rows * vector_bytes(dims))
            return Storage(
                round(raw * factor),
                f"estimate: raw vectors times {factor:.1f} (rows and index, as in the "
                f"{dims}-dimension table)",
            )
    return Storage(
        round(raw * DEFAULT_INDEX_FACTOR),
        f"estimate: raw vectors times {DEFAULT_INDEX_FACTOR} (rows and index)",
    )


# Jobs whose rate measures a model: they ran to the end, or until someone stopped them.
_MEASURING = (EmbeddingJob.Status.COMPLETED, EmbeddingJob.Status.CANCELLED)


def throughputs() -> dict[str, float]:
    """Items a second per model (its key without a size: a model embeds as fast at any size),
    over its finished jobs: all the items they embedded over all the time they took, so a job of
    ten thousand items weighs more than one of three."""
    finished = EmbeddingJob.objects.filter(
        status__in=_MEASURING, done__gt=0, items_per_second__gt=0
    )
    seconds = Cast("done", FloatField()) / F("items_per_second")
    totals: dict[str, list[float]] = {}
    for key, items, spent in (
        finished.values_list("model_key").annotate(items=Sum("done"), spent=Sum(seconds)).order_by()
    ):
        base = _base_key(key)
        total = totals.setdefault(base, [0.0, 0.0])
        total[0] += items
        total[1] += spent
    return {key: items / spent for key, (items, spent) in totals.items() if spent > 0}


def _base_key(key: str) -> str:
    return key.partition("@")[0]


def duration_for(model: ResolvedModel, items: int, rates: dict[str, float]) -> Duration:
    """From the model's own measured rate; never from another model's, which runs elsewhere or
    at another speed (a self-hosted model behind OPENAI_BASE_URL is not OpenAI's). Before a job
    of it finishes, the model's own guess where the registry gives one (a large local model runs
    far slower than a small one), else its provider's; so labelled."""
    rate = rates.get(_base_key(model.key))
    if rate:
        return Duration(items / rate, f"at {rate:.0f} items/s, measured on its jobs")
    provider = PROVIDERS.get(model.provider)
    guess = model.spec.throughput or (provider.throughput if provider is not None else None)
    if guess:
        return Duration(items / guess, f"guess: {guess:.3g} items/s, until a job of it finishes")
    return Duration(None, "")


def estimate_models(keys: list[str] | None = None) -> list[Estimate]:
    """One estimate per model key (every registry model at its full dimensions by default)."""
    resolved = [resolve(key) for key in (keys or [spec.key for spec in MODELS])]
    items = RowTally.count(CatalogItem)
    tokens = catalog_tokens([model.spec for model in resolved], items)
    sizes = table_sizes()
    rates = throughputs()
    estimates = []
    for model in resolved:
        spec = model.spec
        total = tokens.get(spec.key)
        known = total is not None and not total.counting
        cost = model.cost(total.tokens) if known and total else None
        libraries = [
            (
                size,
                model.cost(total.per_item * size) if known and total else None,
            )
            for size in LIBRARY_SIZES
        ]
        estimates.append(
            Estimate(
                spec=spec,
                key=model.key,
                dimensions=model.dimensions,
                items=items,
                tokens=total,
                cost=cost,
                library_costs=libraries,
                storage=storage_for(model.dimensions, items, sizes) if spec.max_tokens else None,
                duration=duration_for(model, items, rates),
            )
        )
    return estimates
