"""A job's life as people and schedules drive it: create (validated, spending cap included),
start, cancel, resume, retry its failed items. Every refusal is a `JobRefused` whose message is
shown to the user as is."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from embeddings.jobs.orphans import mark_interrupted
from embeddings.jobs.queue import TASK_NAMES, enqueue
from embeddings.models import EmbeddingJob, JobFailure
from embeddings.registry import ResolvedModel, UnknownModel, resolve

Status = EmbeddingJob.Status
Mode = EmbeddingJob.Mode

# What the job's spending_cap_usd column holds: 12 digits, 2 of them cents.
MAX_SPENDING_CAP = Decimal("9999999999.99")


class JobRefused(Exception):
    """Why a job cannot be started, cancelled or resumed; shown to the user as is."""


def create_job(
    kind: str,
    model: str | ResolvedModel,
    mode: str = Mode.STALE,
    *,
    user: Any = None,
    batch_size: int | None = None,
    spending_cap_usd: Decimal | float | str | None = None,
) -> EmbeddingJob:
    """Validate and record a job without queueing it (the shell command runs it in the foreground)."""
    if kind not in TASK_NAMES:
        raise JobRefused(f"Unknown kind {kind!r}: choose movie or series")
    if mode not in Mode.values:
        raise JobRefused(f"Unknown mode {mode!r}: choose {', '.join(Mode.values)}")
    resolved = resolved_model(model)
    if resolved.provider == "none":
        raise JobRefused("Embeddings are turned off (provider none): there is nothing to generate")
    size = settings.EMBEDDING_BATCH_SIZE if batch_size is None else batch_size
    if not 1 <= size <= 2048:
        raise JobRefused("The batch size must be between 1 and 2048")
    cap = spending_cap(spending_cap_usd)
    user = user if getattr(user, "is_authenticated", False) else None
    try:
        with transaction.atomic():
            return EmbeddingJob.objects.create(
                kind=kind, model_key=resolved.key, mode=mode, batch_size=size,
                spending_cap_usd=cap, created_by=user,
            )  # fmt: skip
    except IntegrityError:
        raise JobRefused(_already_running(kind, resolved.key)) from None


def start_job(
    kind: str,
    model: str | ResolvedModel,
    mode: str = Mode.STALE,
    *,
    user: Any = None,
    batch_size: int | None = None,
    spending_cap_usd: Decimal | float | str | None = None,
) -> EmbeddingJob:
    """Record a job and queue it for the workers (it spreads to free ones as it runs)."""
    job = create_job(
        kind, model, mode, user=user, batch_size=batch_size, spending_cap_usd=spending_cap_usd
    )
    enqueue(job)
    return job


def cancel_job(job_id: int) -> EmbeddingJob:
    """Queued or orphaned jobs stop at once; a running one stops after its batch in flight."""
    mark_interrupted()
    stopped = EmbeddingJob.objects.filter(pk=job_id).cancel()
    found = _get(job_id)
    if not stopped:
        raise JobRefused(
            f"Job #{found.pk} is {found.get_status_display().lower()}; there is nothing to cancel"
        )
    return found


def resume_job(
    job_id: int, *, spending_cap_usd: Decimal | float | str | None = None
) -> EmbeddingJob:
    """Queue a stopped job again; it continues with what is still missing. A new spending cap
    replaces the job's (validated as at creation, and above what the job has spent); a job
    stopped by its cap resumes only with a higher one, or it would stop again at once."""
    cap = spending_cap(spending_cap_usd)
    mark_interrupted()
    with transaction.atomic():
        job = locked_job(job_id)
        if job.status not in EmbeddingJob.STOPPED_STATUSES:
            raise JobRefused(
                f"Job #{job.pk} is {job.get_status_display().lower()}; only stopped jobs resume"
            )
        if cap is not None and cap <= job.cost_usd:
            raise JobRefused(
                f"A new cap must be above the ${job.cost_usd:.4f} job #{job.pk} has spent"
            )
        if cap is None and job.stopped_at_cap:
            raise JobRefused(
                f"Job #{job.pk} stopped at its spending cap of ${job.spending_cap_usd}: "
                "give a higher cap to resume it"
            )
        if cap is not None:
            job.spending_cap_usd = cap
        requeue(job)
    enqueue(job)
    return job


def retry_failed(job_id: int) -> EmbeddingJob:
    """Forget the job's failed items and queue it again, so they are tried once more."""
    mark_interrupted()
    with transaction.atomic():
        job = locked_job(job_id)
        if job.status in EmbeddingJob.ACTIVE_STATUSES:
            raise JobRefused(
                f"Job #{job.pk} is still {job.get_status_display().lower()}; retry when it ends"
            )
        forgotten, _ = JobFailure.objects.filter(job=job).delete()
        if not forgotten:
            raise JobRefused(f"Job #{job.pk} has no failed items to retry")
        job.failed = max(0, job.failed - forgotten)
        requeue(job)
    enqueue(job)
    return job


def spending_cap(value: Decimal | float | str | None) -> Decimal | None:
    """A spending cap from a form or a shell, in whole cents above $0; None for no cap."""
    try:
        cap = None if value in (None, "") else Decimal(str(value))
    except InvalidOperation:
        raise JobRefused(f"The spending cap must be an amount in dollars, not {value!r}") from None
    if cap is not None and not (cap.is_finite() and 0 < cap <= MAX_SPENDING_CAP):
        raise JobRefused(f"A spending cap must be more than $0 and at most ${MAX_SPENDING_CAP:,}")
    if cap is not None and cap != cap.quantize(Decimal("0.01")):
        raise JobRefused(f"A spending cap is in whole cents, not ${value}")
    return cap


def resolved_model(model: str | ResolvedModel) -> ResolvedModel:
    """A model key from a form or a shell, resolved once; an unknown one refuses the job."""
    if isinstance(model, ResolvedModel):
        return model
    try:
        return resolve(model)
    except UnknownModel as exc:
        raise JobRefused(str(exc)) from None


def locked_job(job_id: int) -> EmbeddingJob:
    """The job, its row locked until the caller's transaction ends."""
    return _get(job_id, EmbeddingJob.objects.select_for_update())


def requeue(job: EmbeddingJob) -> None:
    """Record the job as queued again, fresh for its next run (the caller queues its task)."""
    job.status = Status.QUEUED
    job.recovered_at = None  # the watchdog sets it again when it is the one requeueing
    job.failed_batches_in_row = 0
    job.last_error = ""
    job.finished_at = None
    job.eta_seconds = None
    job.items_per_second = 0
    job.batch_ends, job.batch_items = [], []  # the next run meters afresh from its first batch
    try:
        with transaction.atomic():
            job.save()
    except IntegrityError:
        raise JobRefused(_already_running(job.kind, job.model_key)) from None


def _already_running(kind: str, key: str) -> str:
    label = "movies" if kind == "movie" else "series"
    return f"A {label} job for {key} is already running"


def _get(job_id: int, jobs: QuerySet[EmbeddingJob] | None = None) -> EmbeddingJob:
    job = (EmbeddingJob.objects.all() if jobs is None else jobs).filter(pk=job_id).first()
    if job is None:
        raise JobRefused(f"There is no job #{job_id}")
    return job
