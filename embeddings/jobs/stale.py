"""What needs embedding, decided in SQL: every catalog row carries the hash of its current text
(`CatalogItem.text_hash`), so "missing or changed" is one anti-join against an embeddings table,
and no item's text is built to answer a count."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from catalog.models import CatalogItem
from embeddings.models import EmbeddingBase

MODES = ("all", "missing", "stale")


def needing_work(
    items: QuerySet[CatalogItem],
    table: type[EmbeddingBase],
    model_key: str,
    mode: str,
    since: datetime | None = None,
) -> QuerySet[CatalogItem]:
    """Those of `items` that need embedding with `model_key` under `mode`.

    An item without text never needs work. A stored row counts as done when: `missing`, it
    exists; `stale`, its hash is the item's current one; `all`, never. Under any mode a row
    written at or after `since` is done (what makes a running `all` job resumable)."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}")
    with_text = items.exclude(text_hash="")
    rows = table.objects.filter(model_key=model_key, item_id=OuterRef("pk"))
    if mode == "missing":
        return with_text.filter(~Exists(rows))  # any row is done
    if mode == "stale":
        done = Q(source_hash=OuterRef("text_hash"))
        if since is not None:
            done |= Q(created_at__gte=since)
        return with_text.filter(~Exists(rows.filter(done)))
    if since is None:
        return with_text  # `all`, before the job wrote anything
    # "No row written since the job started" would be one anti-join, but the planner's
    # statistics lag behind the rows a job writes: to them no row is that new, and on an estimate
    # of one row PostgreSQL compares every item with every row (7.5 s for one 2,000-item chunk
    # of a 20,000-item job). "No row, or one written before the job" is the same set (an item
    # has one row per model), read with one index probe per item.
    return with_text.filter(~Exists(rows) | Exists(rows.filter(created_at__lt=since)))


def stale_count(items: QuerySet[CatalogItem], table: type[EmbeddingBase], model_key: str) -> int:
    """Items with text whose vector of this model is missing or was built from another text."""
    return needing_work(items, table, model_key, "stale").count()


@dataclass(frozen=True)
class Backlog:
    """What a model's set lacks for one kind of item: items with text and no vector of the
    model (`missing`), and items whose vector was built from an earlier text (`changed`)."""

    missing: int = 0
    changed: int = 0

    @property
    def total(self) -> int:
        return self.missing + self.changed


def backlog(
    items: QuerySet[CatalogItem], table: type[EmbeddingBase], model_key: str
) -> dict[str, Backlog]:
    """The backlog of `model_key`'s set per kind of item, in one query (an index probe per item:
    each item has at most one row per model). Kinds with nothing to do are left out."""
    rows = table.objects.filter(model_key=model_key, item_id=OuterRef("pk"))
    counts = (
        items.exclude(text_hash="")
        .order_by()
        .values("kind")
        .annotate(
            missing=Count("pk", filter=~Exists(rows)),
            changed=Count("pk", filter=Exists(rows.exclude(source_hash=OuterRef("text_hash")))),
        )
    )
    found = {row["kind"]: Backlog(row["missing"], row["changed"]) for row in counts}
    return {kind: b for kind, b in sorted(found.items()) if b.total}
