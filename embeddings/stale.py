"""What needs embedding, decided in SQL: every catalog row carries the hash of its current text
(`CatalogItem.text_hash`), so "missing or changed" is one anti-join against an embeddings table,
and no item's text is built to answer a count."""

from __future__ import annotations

import operator
from datetime import datetime
from functools import reduce

from django.db.models import Exists, OuterRef, Q, QuerySet

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
    done = [Q(source_hash=OuterRef("text_hash"))] if mode == "stale" else []
    if since is not None:
        done.append(Q(created_at__gte=since))
    if not done:
        return with_text  # `all`, before the job wrote anything
    return with_text.filter(~Exists(rows.filter(reduce(operator.or_, done))))


def stale_count(items: QuerySet[CatalogItem], table: type[EmbeddingBase], model_key: str) -> int:
    """Items with text whose vector of this model is missing or was built from another text."""
    return needing_work(items, table, model_key, "stale").count()
