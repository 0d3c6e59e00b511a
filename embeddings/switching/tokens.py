"""Token counts of the catalog per tokenizer, cached in `TokenCount` and kept fresh by
`source_hash`; the settings page sums their tally (`TokenTally`, a few hundred rows kept by the
database) instead of tokenizing, or reading a row per item, on every view."""

from __future__ import annotations

import logging
import operator
from dataclasses import dataclass
from functools import reduce

from django.core.cache import cache
from django.db.models import Aggregate, Exists, F, IntegerField, Max, OuterRef, Q, Sum, Value
from django.db.models.functions import Least
from django_q.tasks import async_task

from catalog.models import CatalogItem
from embeddings.models import TokenCount, TokenTally
from embeddings.providers import EmbeddingError, Provider, get_provider
from embeddings.registry import MODELS, ModelSpec
from embeddings.text import TEXT_FIELDS, ItemFields, item_text, source_hash

log = logging.getLogger(__name__)

QUEUED_KEY = "reclio:token-count-queued"
_SEEN_KEY = "reclio:token-count-catalog-seen"


def counting_providers() -> dict[str, Provider]:
    """One provider per tokenizer the model table needs (models sharing a tokenizer share counts)."""
    found: dict[str, Provider] = {}
    for spec in MODELS:
        if not spec.max_tokens:
            continue
        try:
            provider = get_provider(spec.key)
        except (EmbeddingError, ValueError):
            continue
        found.setdefault(provider.tokenizer_key, provider)
    return found


def refresh_token_counts(batch_size: int = 500) -> int:
    """Count tokens of items whose text changed since they were counted; returns how many counts
    were written.

    1. Ask SQL for items lacking a count, for some tokenizer, of their current
       `text_hash`, a primary-key chunk at a time.
    2. Build those items' texts and count each with the tokenizers that lack it.
    3. Upsert those rows.
    """
    providers = counting_providers()
    if not providers:
        cache.delete(QUEUED_KEY)
        return 0
    written = 0
    last_id = 0
    lacking = [
        ~Exists(
            TokenCount.objects.filter(
                item_id=OuterRef("pk"), tokenizer=name, source_hash=OuterRef("text_hash")
            )
        )
        for name in providers
    ]
    candidates = CatalogItem.objects.filter(reduce(operator.or_, lacking)).order_by("id")
    while True:
        chunk = list(candidates.filter(id__gt=last_id).values_list("id", *TEXT_FIELDS)[:batch_size])
        if not chunk:
            break
        last_id = chunk[-1][0]
        stored = {
            (item_id, tokenizer): digest
            for item_id, tokenizer, digest in TokenCount.objects.filter(
                item_id__in=[row[0] for row in chunk], tokenizer__in=providers
            ).values_list("item_id", "tokenizer", "source_hash")
        }
        rows = []
        for item_id, *fields in chunk:
            text = item_text(ItemFields(*fields))
            digest = source_hash(text) if text else ""  # as CatalogItem.text_hash
            for name, provider in providers.items():
                if stored.get((item_id, name)) != digest:
                    tokens = provider.count_tokens(text)
                    rows.append(
                        TokenCount(
                            item_id=item_id, tokenizer=name, source_hash=digest, tokens=tokens
                        )
                    )
        TokenCount.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["item", "tokenizer"],
            update_fields=["source_hash", "tokens"],
        )
        written += len(rows)
    cache.delete(QUEUED_KEY)
    return written


def queue_token_count() -> bool:
    """Ask a worker to count the catalog's tokens, once at a time; returns whether it queued."""
    if not cache.add(QUEUED_KEY, True, timeout=60):
        return False
    async_task("embeddings.tasks.refresh_token_counts", task_name="Count catalog tokens")
    return True


def keep_counts_fresh(incomplete: bool) -> bool:
    """Queue a count when items lack one, or when the catalog changed since this process last
    asked (the task only recounts texts whose hash changed, so asking is cheap)."""
    latest = CatalogItem.objects.aggregate(latest=Max("updated_at"))["latest"]
    if not incomplete and cache.get(_SEEN_KEY) == latest:
        return False
    queued = queue_token_count()
    if queued:
        cache.set(_SEEN_KEY, latest, timeout=None)
    return queued


@dataclass(frozen=True)
class TokenTotal:
    """Tokens of the whole catalog for one model, and how sure we are of them."""

    tokens: int
    counted_items: int
    total_items: int
    exact_tokenizer: bool
    # Texts longer than the model reads: the provider embeds only their first max tokens.
    cut_items: int = 0

    @property
    def complete(self) -> bool:
        return self.counted_items >= self.total_items

    @property
    def counting(self) -> bool:
        return self.counted_items == 0 and self.total_items > 0

    @property
    def exact(self) -> bool:
        return self.exact_tokenizer and self.complete

    @property
    def per_item(self) -> float:
        return self.tokens / self.total_items if self.total_items else 0.0


def catalog_tokens(specs: list[ModelSpec], total_items: int) -> dict[str, TokenTotal]:
    """Tokens per model key in one aggregate query over the tally of cached counts (rows per
    tokenizer and size, not per item): each count capped at the model's max tokens (providers
    truncate longer texts), and the texts so cut counted; uncounted items extrapolated from the
    counted ones."""
    wanted: dict[str, tuple[str, int, bool]] = {}
    for spec in specs:
        if not spec.max_tokens:
            continue
        try:
            provider = get_provider(spec.key)
        except (EmbeddingError, ValueError):
            continue
        wanted[spec.key] = (provider.tokenizer_key, spec.max_tokens, provider.exact_tokens)
    aggregates: dict[str, Aggregate] = {}
    for index, (name, limit, _) in enumerate(wanted.values()):
        only = Q(tokenizer=name)
        capped = Least("tokens", Value(limit, output_field=IntegerField()))
        aggregates[f"t{index}"] = Sum(F("items") * capped, filter=only)
        aggregates[f"n{index}"] = Sum("items", filter=only)
        aggregates[f"c{index}"] = Sum("items", filter=only & Q(tokens__gt=limit))
    sums = TokenTally.objects.aggregate(**aggregates) if aggregates else {}
    totals = {}
    for index, (key, (_, _, exact)) in enumerate(wanted.items()):
        counted = int(sums.get(f"n{index}") or 0)
        tokens = int(sums.get(f"t{index}") or 0)
        cut = int(sums.get(f"c{index}") or 0)
        if 0 < counted < total_items:
            tokens = round(tokens * total_items / counted)
            cut = round(cut * total_items / counted)
        totals[key] = TokenTotal(tokens, counted, total_items, exact, cut)
    return totals
