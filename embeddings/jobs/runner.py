"""Running a job: join it, claim and embed batches, store them and count, then stop or complete.

Any number of workers (django-q2 tasks or shell commands) run this for one job at once; job
state lives in `EmbeddingJob`, so a crashed worker loses at most its batch in flight and a page
reload shows the truth. What follows a completion (the lexical rows, the quality measurement,
the cut-over) is not the runner's: its report says whether this worker completed the job, and
`embeddings.tasks` decides the rest.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F
from django.utils import timezone

from embeddings.jobs.bulk_load import begin_bulk_load, restore_index
from embeddings.jobs.embedding import embed_batch, store_vectors
from embeddings.jobs.metering import average_rate, batch_fields, meter, over_cap, price
from embeddings.jobs.orphans import mark_interrupted
from embeddings.jobs.queue import spread_job
from embeddings.jobs.selection import Work, claimed_batches, items_of, pending_items
from embeddings.jobs.stale import needing_work
from embeddings.models import EmbeddingBase, EmbeddingJob, JobFailure
from embeddings.providers import EmbeddingError, Provider, get_provider
from embeddings.registry import UnknownModel
from embeddings.worker_locks import hold_job, release_items, release_job
from reclio_admin.logs import log_context

# One logger name for every line about jobs, whichever module of the package writes it.
logger = logging.getLogger("embeddings.jobs")

Status = EmbeddingJob.Status

ProgressCallback = Callable[[EmbeddingJob], None]


@dataclass
class WorkerReport:
    """What one worker's run did (the job's own counts add up every worker's)."""

    status: str = ""
    embedded: int = 0
    failed: int = 0
    # This worker moved the job to completed (of the workers sharing a job, one does).
    completed: bool = False


def run_job(
    job_id: int,
    *,
    provider: Provider | None = None,
    on_progress: ProgressCallback | None = None,
    spread: bool = False,
) -> str:
    """Work on a job until nothing is left, or it is cancelled, capped or failing; return its
    status. Any number of workers may run this for the same job at once.

    1. Join the job; the first worker counts the total and what needs nothing.
    2. List what still needs work; claim it a full batch at a time (advisory locks on the
       items, skipping those other workers hold) and check again under the claim, since
       another worker may have just done it.
    3. Embed the batch, then upsert its rows and count it in one transaction: a worker killed
       mid-batch loses the batch and nothing else.
    4. After each batch: heartbeat, rate and ETA; stop on cancel or too many failed batches.
    5. When a pass finds nothing left, the job is complete (`work_on_job` reports whether this
       worker completed it; `embeddings.tasks.run_job` then does what follows).

    A queued task spreads the job (`spread`): once it has a batch, it calls one more free
    worker in (see `embeddings.jobs.queue.spread_job`).
    """
    return work_on_job(job_id, provider=provider, on_progress=on_progress, spread=spread).status


def work_on_job(
    job_id: int,
    *,
    provider: Provider | None = None,
    on_progress: ProgressCallback | None = None,
    spread: bool = False,
) -> WorkerReport:
    """`run_job`, reporting what this worker did itself."""
    report = WorkerReport()
    # This session's lock says "a worker is on it" until the process ends, however it ends.
    hold_job(job_id)
    mark_interrupted()  # a worker coming up is where jobs orphaned by a dead one are found
    key = EmbeddingJob.objects.filter(pk=job_id).values_list("model_key", flat=True).first()
    with log_context(job_id=job_id, model_key=key):
        try:
            report.status = _work(job_id, provider, on_progress, report, spread)
        except Exception as exc:
            # A bug or a lost database must not leave the job "running" until its heartbeat ages.
            logger.exception(
                "Embedding job #%s stopped by an unexpected error",
                job_id,
                extra=_event("job_crashed"),
            )
            with contextlib.suppress(DatabaseError):
                _stop(job_id, Status.FAILED, f"Unexpected error: {type(exc).__name__}: {exc}")
            raise
        finally:
            with contextlib.suppress(DatabaseError):
                release_job(job_id)
    return report


def _event(name: str) -> dict[str, str]:
    """What a log call passes as `extra` to name its event in structured logs."""
    return {"event": name}


def _work(
    job_id: int,
    provider: Provider | None,
    on_progress: ProgressCallback | None,
    report: WorkerReport,
    spread: bool,
) -> str:
    key = EmbeddingJob.objects.values_list("model_key", flat=True).get(pk=job_id)
    try:
        provider = provider or get_provider(key)
    except (UnknownModel, EmbeddingError) as exc:
        return _stop(job_id, Status.FAILED, str(exc), also_queued=True)
    provider.on_wait = _waiting(job_id)
    table = provider.model.table
    job = _join(job_id, table)
    if job is None:
        return EmbeddingJob.objects.values_list("status", flat=True).get(pk=job_id)
    while True:
        claimed_any = False
        batches = claimed_batches(job, table)
        while True:
            if (status := _stopping(job_id)) is not None:
                return status
            if (batch := next(batches, None)) is None:
                break
            if spread:
                spread_job(job_id, provider)
                spread = False
            claimed_any = True
            outcome = _run_batch(job, provider, table, batch)
            report.embedded += outcome.embedded
            report.failed += outcome.failed
            current = meter(job_id)
            if on_progress:
                on_progress(current)
            if (status := _verdict(current, outcome)) is not None:
                return status
        if not pending_items(job, table).exists():
            return _complete(job_id, on_progress, report)
        if not claimed_any:
            # The rest is in other workers' hands; they finish the job.
            return Status.RUNNING


def _waiting(job_id: int) -> Callable[[EmbeddingError, float], None]:
    """While a batch waits out a provider's back-pressure or retries, the job page shows the
    provider's own error and the worker keeps beating."""

    def write(message: str) -> None:
        try:
            EmbeddingJob.objects.filter(pk=job_id).update(
                heartbeat_at=timezone.now(), last_error=message
            )
        finally:
            connection.close()

    def note(error: EmbeddingError, seconds: float) -> None:
        # On a connection of its own, closed after: the wait may happen in one of the
        # provider's request threads, which must not each keep a connection open.
        writer = threading.Thread(target=write, args=(f"Retrying in {seconds:.1f} s: {error}",))
        writer.start()
        writer.join()

    return note


def _join(job_id: int, table: type[EmbeddingBase]) -> EmbeddingJob | None:
    """Mark the job running; the first worker to join counts, in SQL, the total and what needs
    nothing (no text, or already up to date), without building a single text."""
    with transaction.atomic():
        job = EmbeddingJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status not in (Status.QUEUED, Status.RUNNING):
            return None
        now = timezone.now()
        first = job.started_at is None
        if first:
            job.started_at = now
            items = items_of(job)
            # Nothing was written since a job that starts now: no `since` to look for.
            pending = needing_work(items, table, job.model_key, job.mode).count()
            job.total = items.count()
            job.skipped = job.total - pending
            begin_bulk_load(table, pending)
        job.status = Status.RUNNING
        job.heartbeat_at = now
        job.save()
    return job


@dataclass
class _Outcome:
    embedded: int
    failed: int
    error: str = ""
    capped: bool = False


def _run_batch(
    job: EmbeddingJob, provider: Provider, table: type[EmbeddingBase], work: list[Work]
) -> _Outcome:
    """One claimed batch, its claims released after.

    1. Embed, with no transaction open: the provider may take its time.
    2. Store the vectors, the failures and the counts in one short transaction.
    """
    try:
        if reason := over_cap(job, provider, work):
            return _Outcome(0, 0, reason, capped=True)
        embedded, vectors, failures = embed_batch(provider, work)
        with transaction.atomic():
            _store_batch(job, provider, table, embedded, vectors, failures)
    finally:
        release_items(job.model_key, [w.item_id for w in work])
    return _Outcome(len(embedded), len(failures), failures[-1][1] if failures else "")


def _store_batch(
    job: EmbeddingJob,
    provider: Provider,
    table: type[EmbeddingBase],
    embedded: list[Work],
    vectors: np.ndarray,
    failures: list[tuple[Work, str]],
) -> None:
    """A batch's rows, failures and counts (the caller holds one transaction around it)."""
    store_vectors(table, job.model_key, embedded, vectors)
    if failures:
        JobFailure.objects.bulk_create(
            [
                JobFailure(job_id=job.pk, item_id=w.item_id, reason=reason[:2000])
                for w, reason in failures
            ],
            ignore_conflicts=True,
        )
    tokens, cost = price(provider, embedded) if embedded else (0, Decimal(0))
    error = failures[-1][1] if failures else ""
    EmbeddingJob.objects.filter(pk=job.pk).update(
        done=F("done") + len(embedded),
        failed=F("failed") + len(failures),
        tokens_used=F("tokens_used") + tokens,
        cost_usd=F("cost_usd") + cost,
        failed_batches_in_row=(F("failed_batches_in_row") + 1) if not embedded else 0,
        heartbeat_at=timezone.now(),
        **batch_fields(len(embedded) + len(failures)),
        **({"last_error": error} if error else {}),
    )


def _verdict(job: EmbeddingJob, outcome: _Outcome) -> str | None:
    """The status to stop with after a batch, or None to go on."""
    if outcome.capped:
        return _stop(job.pk, Status.CANCELLED, outcome.error)
    if job.status == Status.CANCELLING:
        return _stop(job.pk, Status.CANCELLED, "")
    if job.failed_batches_in_row >= settings.JOB_MAX_FAILED_BATCHES:
        return _stop(
            job.pk,
            Status.FAILED,
            f"{job.failed_batches_in_row} batches failed in a row. Last error: {job.last_error}",
        )
    if job.status != Status.RUNNING:
        return job.status
    return None


def _stopping(job_id: int) -> str | None:
    """Before each batch: a cancel asked for meanwhile ends the run here."""
    status = EmbeddingJob.objects.values_list("status", flat=True).get(pk=job_id)
    if status == Status.CANCELLING:
        return _stop(job_id, Status.CANCELLED, "")
    return None if status == Status.RUNNING else status


def _stop(job_id: int, status: str, error: str, *, also_queued: bool = False) -> str:
    fields: dict[str, Any] = {"finished_at": timezone.now(), "eta_seconds": None, **average_rate()}
    if error:
        fields["last_error"] = error
    stoppable = [Status.RUNNING, Status.CANCELLING] + ([Status.QUEUED] if also_queued else [])
    try:
        if EmbeddingJob.objects.filter(pk=job_id).move(status, from_=stoppable, **fields):
            logger.info(
                "Embedding job #%s stopped: %s %s",
                job_id, status, error, extra=_event(f"job_{status}"),
            )  # fmt: skip
    finally:
        # Whether or not the status could be written, the table gets its index back (in a
        # transaction of its own: every transaction of the run has ended by now).
        restore_index(job_id)
    return EmbeddingJob.objects.values_list("status", flat=True).get(pk=job_id)


def _complete(job_id: int, on_progress: ProgressCallback | None, report: WorkerReport) -> str:
    report.completed = bool(
        EmbeddingJob.objects.filter(pk=job_id).move(
            Status.COMPLETED,
            from_=EmbeddingJob.BEATING_STATUSES,
            finished_at=timezone.now(),
            eta_seconds=0,
            **average_rate(),
        )
    )
    restore_index(job_id)
    job = EmbeddingJob.objects.get(pk=job_id)
    logger.info(
        "Embedding job #%s ended %s: %s done, %s skipped, %s failed of %s",
        job_id, job.status, job.done, job.skipped, job.failed, job.total,
        extra=_event(f"job_{job.status}"),
    )  # fmt: skip
    if on_progress:
        on_progress(job)
    return job.status
