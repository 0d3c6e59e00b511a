"""What a job's batches cost and how fast the job goes: the price of a batch in tokens and
dollars, the spending cap it must stay under, and the rate and ETA one worker measures."""

from __future__ import annotations

import time
from collections.abc import Iterable
from decimal import Decimal

from embeddings.jobs.selection import Work
from embeddings.models import CAP_REACHED, EmbeddingJob
from embeddings.providers import Provider


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


class Meter:
    """Rate and ETA from this worker's run (time spent before a resume does not count)."""

    def __init__(self, job: EmbeddingJob) -> None:
        self.started = time.monotonic()
        self.baseline = job.done + job.failed

    def update(self, job_id: int) -> EmbeddingJob:
        job = EmbeddingJob.objects.get(pk=job_id)
        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate = max(job.done + job.failed - self.baseline, 0) / elapsed
        remaining = max(job.total - job.done - job.skipped - job.failed, 0)
        job.items_per_second = rate
        job.eta_seconds = remaining / rate if rate else None
        EmbeddingJob.objects.filter(pk=job_id).update(
            items_per_second=rate, eta_seconds=job.eta_seconds
        )
        return job
