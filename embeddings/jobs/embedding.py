"""Embedding a batch of texts and storing the vectors: what a job does with each batch it
claims, and what "Embed now" does for a few items without a job."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from django.conf import settings

from catalog.models import CatalogItem
from embeddings.jobs.lifecycle import resolved_model
from embeddings.jobs.selection import Work, pending_work
from embeddings.models import EmbeddingBase, EmbeddingJob
from embeddings.providers import EmbeddingError, Provider, get_provider
from embeddings.registry import ResolvedModel


@dataclass
class EmbedResult:
    done: int = 0
    skipped: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def store_vectors(
    table: type[EmbeddingBase],
    model_key: str,
    work: Sequence[Work],
    vectors: Sequence[Sequence[float]] | np.ndarray,
) -> None:
    """Upsert one batch; running it twice leaves the same rows."""
    table.objects.upsert(model_key, [(w.item_id, w.hash) for w in work], vectors)


def embed_batch(
    provider: Provider, work: list[Work]
) -> tuple[list[Work], np.ndarray, list[tuple[Work, str]]]:
    """Embed a batch: (embedded, their vectors, a row each, failures with reasons). A provider
    that is down fails the whole batch; a request refused for its content is retried item by
    item, so one bad item does not take its neighbours down with it."""
    nothing = np.empty((0, provider.dimensions))
    try:
        return work, provider.embed_array([w.text for w in work]), []
    except EmbeddingError as exc:
        if exc.retryable or len(work) == 1:
            return [], nothing, [(w, str(exc)) for w in work]
    embedded, vectors, failures = [], [nothing], []
    for w in work:
        try:
            vectors.append(provider.embed_array([w.text]))
            embedded.append(w)
        except EmbeddingError as exc:
            failures.append((w, str(exc)))
    return embedded, np.vstack(vectors), failures


def embed_items(item_ids: list[int], model: str | ResolvedModel) -> EmbedResult:
    """Embed these items now, in this process (missing or changed ones; up-to-date and empty
    ones are skipped)."""
    provider = get_provider(resolved_model(model))
    table = provider.model.table
    items = CatalogItem.objects.filter(id__in=item_ids)
    work, skipped = pending_work(items, table, provider.key, EmbeddingJob.Mode.STALE, None)
    result = EmbedResult(skipped=skipped)
    for start in range(0, len(work), settings.EMBEDDING_BATCH_SIZE):
        embedded, vectors, failures = embed_batch(
            provider, work[start : start + settings.EMBEDDING_BATCH_SIZE]
        )
        store_vectors(table, provider.key, embedded, vectors)
        result.done += len(embedded)
        result.failed += len(failures)
        result.errors += sorted({reason for _, reason in failures})
    return result
