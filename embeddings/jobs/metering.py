"""What a job's batches cost and how fast the job goes: the price of a batch in tokens and
dollars, the spending cap it must stay under, and the rate and ETA the job's workers keep.

The rate is measured from stored batches alone. Each batch a worker stores appends its time (by
the database's clock, which every worker shares) and its item count to the job row
(`batch_fields`), in the same UPDATE that counts it; the rate is then read over a recent window
of those batches (`recent_rate`). Time before a run's first stored batch (queued, or a model
loading) and time between runs (stopped) never count, and a slow start fades out of the window
as the run goes on.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from django.contrib.postgres.fields import ArrayField
from django.db.models import Case, ExpressionWrapper, F, FloatField, IntegerField, When
from django.db.models.expressions import RawSQL

from embeddings.jobs.selection import Work
from embeddings.models import CAP_REACHED, EmbeddingJob
from embeddings.providers import Provider

# The batches a job row keeps of its current run (a window never needs more).
KEPT_BATCHES = 64
# The rate's window reaches back this far from the latest batch at most, and never into the
# first half of the run's batches: early in a run that half holds its start (a model's first
# calls, caches warming), which says little about the rest.
WINDOW_SECONDS = 60.0
_NOW = "extract(epoch from clock_timestamp())"


def price(provider: Provider, work: Iterable[Work]) -> tuple[int, Decimal]:
    """(tokens, dollars) of embedding these texts, each cut at the model's token limit."""
    limit = provider.max_tokens
    tokens = sum(
        min(provider.count_tokens(w.text), limit) if limit else provider.count_tokens(w.text)
        for w in work
    )
    return tokens, provider.model.cost(tokens)


def over_cap(job: EmbeddingJob, provider: Provider, work: Iterable[Work]) -> str:
    """Why the job stops before this batch, when paying for it would pass the job's spending
    cap; empty when it may go on (or has no cap)."""
    if job.spending_cap_usd is None:
        return ""
    _, cost = price(provider, work)
    spent = EmbeddingJob.objects.values_list("cost_usd", flat=True).get(pk=job.pk)
    if spent + cost > job.spending_cap_usd:
        return f"{CAP_REACHED} of ${job.spending_cap_usd} (spent ${spent:.4f})."
    return ""


def batch_fields(items: int) -> dict[str, Any]:
    """The fields an UPDATE of the job row sets to record a stored batch of `items` processed
    items. Every expression reads the row as it was before the UPDATE, under its row lock, so
    workers storing batches at the same moment each append their own."""
    return {
        "batch_ends": RawSQL(
            f'("batch_ends" || {_NOW})[greatest(cardinality("batch_ends") + 2 - %s, 1):]',
            [KEPT_BATCHES],
            output_field=ArrayField(FloatField()),
        ),
        "batch_items": RawSQL(
            '("batch_items" || %s::integer)[greatest(cardinality("batch_items") + 2 - %s, 1):]',
            [items, KEPT_BATCHES],
            output_field=ArrayField(IntegerField()),
        ),
        # The run's first batch starts the clock: its items took the time before it.
        "metered_items": RawSQL(
            '"metered_items" + CASE WHEN cardinality("batch_ends") > 0 THEN %s ELSE 0 END',
            [items],
            output_field=IntegerField(),
        ),
        "metered_seconds": RawSQL(
            f'"metered_seconds" + coalesce({_NOW} - "batch_ends"[cardinality("batch_ends")], 0)',
            [],
            output_field=FloatField(),
        ),
    }


def recent_rate(ends: Sequence[float], items: Sequence[int]) -> float | None:
    """Items a second over the recent batches of a run (their store times and item counts):
    from a starting batch to the latest, the items stored after the start over the time between.

    The start is the later of the run's middle batch and the first batch within
    `WINDOW_SECONDS` of the latest. None before a run has two batches apart in time."""
    count = len(ends)
    if count < 2:
        return None
    start = min(count // 2, count - 2)
    while start < count - 2 and ends[-1] - ends[start] > WINDOW_SECONDS:
        start += 1
    span = ends[-1] - ends[start]
    return sum(items[start + 1 :]) / span if span > 0 else None


def remaining(job: EmbeddingJob) -> int:
    return max(job.total - job.done - job.skipped - job.failed, 0)


def meter(job_id: int) -> EmbeddingJob:
    """After a batch is stored: the job's recent rate and its ETA, written to its row and
    returned with it."""
    job = EmbeddingJob.objects.get(pk=job_id)
    rate = recent_rate(job.batch_ends, job.batch_items)
    job.items_per_second = rate or 0.0
    job.eta_seconds = remaining(job) / rate if rate else None
    EmbeddingJob.objects.filter(pk=job_id).update(
        items_per_second=job.items_per_second, eta_seconds=job.eta_seconds
    )
    return job


def average_rate() -> dict[str, Any]:
    """The field an UPDATE that stops or completes the job sets: its rate becomes its average
    over the time it worked (what estimates of a model's time read), kept as it was when no
    time was metered (a job of one batch)."""
    return {
        "items_per_second": Case(
            When(
                metered_seconds__gt=0,
                then=ExpressionWrapper(
                    F("metered_items") / F("metered_seconds"), output_field=FloatField()
                ),
            ),
            default=F("items_per_second"),
            output_field=FloatField(),
        )
    }
