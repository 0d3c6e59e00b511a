"""The one map of what the worker runs, and when.

Every task django-q runs is a function here, queued or scheduled by its dotted path
`embeddings.tasks.<name>` (the packages below queue these paths as strings and never import this
module). Each takes primary keys and hands over to the package that does the work:

- `run_job(job_id)`: work on a regeneration job (queued when a job starts or resumes, and again
  to spread it); when this worker completes it, `after_job_completed` follows;
- `recover_jobs()`: every minute, the watchdog that queues again the jobs (and the content
  sync) whose workers died;
- `measure_then_cut_over(run_id)`: a quality measurement, then the cut-over it may be holding;
- `compute_disagreements(run_id)`: two models' top 10s compared over the whole catalog;
- `refresh_token_counts()`: the catalog's token counts, for the cost estimates;
- `run_content_sync(sync_id)`: a content sync from TMDb the jobs page started or resumed;
- `daily_content_sync()`: daily at 03:00 (local time), TMDb's changes into the catalog first
  when a TMDb key is set, then `start_content_sync()`: the active model's set refreshed with
  what is new or changed;
- `health_check()`: hourly, the active model's provider probed (the settings page's probe) and
  the jobs a dead worker left behind recorded.

On the very first start the active model gets the jobs that fill its set (`first_run_jobs`).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from django_q.models import Schedule

from catalog.models import CatalogItem, SyncJob
from catalog.tmdb import control as syncs
from catalog.tmdb.sync import run_sync
from embeddings import jobs, quality
from embeddings.jobs import (
    TASK_NAMES,
    JobRefused,
    ProgressCallback,
    WorkerReport,
    mark_interrupted,
    start_job,
)
from embeddings.models import DisagreementRun, EmbeddingJob, EmbeddingSettings, HealthCheck
from embeddings.neighbours import lexical_rows
from embeddings.providers import Provider
from embeddings.providers.probe import check
from embeddings.providers.sources import TMDbSource
from embeddings.registry import UnknownModel, resolve
from embeddings.storage import set_exists
from embeddings.switching import cutover, tokens
from reclio_admin.logs import log_context

logger = logging.getLogger(__name__)

SCHEDULE_SYNC = "Daily content sync"
SCHEDULE_HEALTH = "Hourly provider health check"
SCHEDULE_WATCHDOG = "Job watchdog"


# --- Regeneration jobs --------------------------------------------------------------------------


def run_job(
    job_id: int,
    *,
    spread: bool = False,
    provider: Provider | None = None,
    on_progress: ProgressCallback | None = None,
) -> str:
    """The worker's task for a job (`embeddings.jobs.run_job`), then what follows its
    completion; returns the job's status."""
    return work_on_job(job_id, spread=spread, provider=provider, on_progress=on_progress).status


def work_on_job(
    job_id: int,
    *,
    spread: bool = False,
    provider: Provider | None = None,
    on_progress: ProgressCallback | None = None,
) -> WorkerReport:
    """`run_job`, reporting what this worker did itself (a foreground run's summary)."""
    report = jobs.work_on_job(job_id, provider=provider, on_progress=on_progress, spread=spread)
    if report.completed:
        after_job_completed(job_id)
    return report


def after_job_completed(job_id: int) -> None:
    """What follows a job this worker completed, in this order:

    1. Bring the items' lexical rows up to date: after the vectors, so the first batch never
       waits for it; before the quality measurement, which scores the lexical and hybrid blends
       too. A failure is logged and the job stays completed: its vectors are stored.
    2. Queue a measurement of the job's model.
    3. Try the automatic cut-over: the set being built may now cover the whole catalog.
    """
    model_key = EmbeddingJob.objects.values_list("model_key", flat=True).get(pk=job_id)
    with log_context(job_id=job_id, model_key=model_key):
        try:
            lexical_rows.refresh()
        except Exception:
            logger.exception("Refreshing the lexical rows failed; the job goes on")
        try:
            quality.measure_soon(model_key)
            cut_over = cutover.maybe_cut_over()
        except Exception:
            logger.exception("Job #%s completed, but what follows it failed", job_id)
            raise
        if cut_over:
            logger.info(
                "Embedding job #%s completed the set of %s; it now serves",
                job_id,
                model_key,
                extra={"event": "model_cut_over"},
            )


def recover_jobs() -> list[int]:
    """Every minute: queue again the jobs whose workers died (`embeddings.jobs.recover_jobs`),
    and the content sync a dead worker left (`catalog.tmdb.control.recover_sync`); returns the
    embedding jobs' ids."""
    resumed = jobs.recover_jobs()
    syncs.recover_sync()
    return resumed


# --- Quality and estimates ----------------------------------------------------------------------


def measure_then_cut_over(run_id: int) -> None:
    """A queued quality measurement, then the cut-over it may be holding."""
    cutover.measure_then_cut_over(run_id)


def compute_disagreements(run_id: int) -> DisagreementRun | None:
    """A queued comparison of two models' top 10s over every item they share."""
    return quality.compute_disagreements(run_id)


def refresh_token_counts() -> int:
    """The token counts of texts that changed since they were counted, for the estimates."""
    return tokens.refresh_token_counts()


# --- By the clock -------------------------------------------------------------------------------


def run_content_sync(sync_id: int) -> str:
    """The worker's task for a content sync from TMDb queued by the jobs page (started or
    resumed); returns its status."""
    return run_sync(sync_id, TMDbSource.client())


def daily_content_sync() -> list[EmbeddingJob]:
    """Daily at 03:00: TMDb's changes into the catalog first, when a TMDb key is set, then the
    `stale` jobs that embed what they changed (and anything else new or changed)."""
    if TMDbSource.configured():
        _sync_from_tmdb()
    return start_content_sync()


def _sync_from_tmdb() -> None:
    """A sync in this worker: the one a dead worker left interrupted, else a new one from where
    the last completed sync ended. Whatever becomes of it, the embedding goes on after."""
    try:
        sync = syncs.take_over() or syncs.create_sync()
    except syncs.SyncRefused as exc:
        logger.info("Daily content sync: %s; embedding what changed so far", exc)
        return
    status = run_sync(sync.pk, TMDbSource.client())
    if status != SyncJob.Status.COMPLETED:
        logger.warning(
            "Daily content sync: TMDb sync #%s ended %s; embedding what changed so far",
            sync.pk,
            status,
            extra={"event": "content_sync_incomplete"},
        )


def start_content_sync(user: Any = None) -> list[EmbeddingJob]:
    """The daily sync: a `stale` job per kind for the active model; one already running is kept."""
    key = EmbeddingSettings.load().active_key
    started = []
    for kind in TASK_NAMES:
        try:
            started.append(start_job(kind, key, EmbeddingJob.Mode.STALE, user=user))
        except JobRefused:
            if running := EmbeddingJob.objects.active().filter(kind=kind, model_key=key).first():
                started.append(running)
            else:
                raise
    return started


def health_check() -> HealthCheck:
    """The hourly upkeep: probe the active model's provider and keep the result (its error
    scrubbed of secrets) for the admin index; and record jobs whose worker stopped beating."""
    mark_interrupted()
    key = EmbeddingSettings.load().active_key
    result = check(key, deadline=settings.PROVIDER_DEADLINE)
    if not result.ok:
        logger.warning(
            "Health check of %s failed: %s",
            key,
            result.error,
            extra={"event": "health_check_failed", "model_key": key},
        )
    return result


def ensure_schedules() -> None:
    """The daily content sync at 03:00 (local time), the hourly health check and the job
    watchdog every minute; idempotent."""
    now = timezone.localtime()
    three = now.replace(hour=3, minute=0, second=0, microsecond=0)
    specs = {
        SCHEDULE_SYNC: (
            "embeddings.tasks.daily_content_sync",
            Schedule.DAILY,
            three if three > now else three + timedelta(days=1),
        ),
        SCHEDULE_HEALTH: (
            "embeddings.tasks.health_check",
            Schedule.HOURLY,
            now + timedelta(minutes=1),
        ),
        # A job whose workers all died is recorded and queued again within a minute.
        SCHEDULE_WATCHDOG: ("embeddings.tasks.recover_jobs", Schedule.MINUTES, now),
    }
    for name, (func, kind, first_run) in specs.items():
        schedule, created = Schedule.objects.get_or_create(
            name=name,
            defaults={
                "func": func, "schedule_type": kind, "next_run": first_run, "repeats": -1,
                "minutes": 1 if kind == Schedule.MINUTES else None,
            },
        )  # fmt: skip
        if not created and (schedule.func, schedule.schedule_type) != (func, kind):
            Schedule.objects.filter(pk=schedule.pk).update(
                func=func, schedule_type=kind, next_run=first_run
            )


def first_run_jobs() -> list[EmbeddingJob]:
    """When the active model has no embeddings at all, queue a job per kind that has items."""
    try:
        model = resolve(EmbeddingSettings.load().active_key)
    except UnknownModel:
        return []
    if model.provider == "none" or set_exists(model):
        return []
    started = []
    for kind in TASK_NAMES:
        if CatalogItem.objects.filter(kind=kind).exists():
            try:
                started.append(start_job(kind, model, EmbeddingJob.Mode.STALE))
            except JobRefused:
                continue  # already queued by an earlier start
    return started
