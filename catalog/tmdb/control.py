"""Starting, cancelling and resuming content syncs, and finding those whose worker died.

A sync's worker holds an advisory lock on it (`catalog.models.SYNC_LOCKS`) while it runs: a
killed worker drops it with its database session, so "is anyone running sync N" is one look at
`pg_locks`. Whoever queues or runs the sync (the jobs page, the worker, `sync_catalog`) is
told the job's id and takes it from there.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, date, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django_q.tasks import async_task

from catalog.models import SyncJob
from catalog.tmdb.client import CHARTS

Status = SyncJob.Status
MAX_CHART_PAGES = 500  # TMDb serves no page of a chart past 500
RUN_SYNC = "embeddings.tasks.run_content_sync"  # the worker's entry point for a queued sync
WORKER_GONE = "Its worker stopped (the process ended before the sync did); resume to go on."
CRASH_LOOP = (
    "Its worker stopped again before finishing a single title since the last automatic resume, "
    "so it was not started a third time. Check the worker's log, then resume it by hand."
)

logger = logging.getLogger(__name__)


class SyncRefused(Exception):
    """Why a sync cannot be started, cancelled or resumed; shown to the user as is."""


def chart_choices() -> list[tuple[str, str]]:
    """The charts an admin may add new titles from, as ("movie:popular", "Movies: popular")."""
    label = {"movie": "Movies", "series": "Series"}
    return [
        (f"{kind}:{name}", f"{label[kind]}: {name.replace('_', ' ')}")
        for kind, names in CHARTS.items()
        for name in names
    ]


def today() -> date:
    """TMDb dates its change lists in UTC."""
    return timezone.now().astimezone(UTC).date()


def default_since() -> date:
    """Where the last completed sync's window ended (that day is read again: TMDb's lists of a
    day grow until it ends), else yesterday."""
    last = (
        SyncJob.objects.filter(status=Status.COMPLETED)
        .order_by("-finished_at")
        .values_list("until", flat=True)
        .first()
    )
    return last or today() - timedelta(days=1)


def create_sync(
    *,
    since: date | None = None,
    charts: Iterable[str] = (),
    chart_pages: int = 0,
    user: Any = None,
) -> SyncJob:
    """Validate and record a sync (not queued: the caller runs or queues it)."""
    until = today()
    since = since or default_since()
    if since > until:
        raise SyncRefused(f"The first day, {since}, is after today ({until})")
    charts = list(dict.fromkeys(charts))
    known = {value for value, _ in chart_choices()}
    if unknown := [chart for chart in charts if chart not in known]:
        raise SyncRefused(f"Unknown chart {unknown[0]!r}: choose among {', '.join(sorted(known))}")
    if not 0 <= chart_pages <= MAX_CHART_PAGES:
        raise SyncRefused(f"The pages of each chart are 0 to {MAX_CHART_PAGES}")
    if charts and not chart_pages:
        chart_pages = 1
    user = user if getattr(user, "is_authenticated", False) else None
    mark_interrupted()
    try:
        with transaction.atomic():
            return SyncJob.objects.create(
                since=since, until=until, charts=charts, chart_pages=chart_pages,
                created_by=user,
            )  # fmt: skip
    except IntegrityError:
        raise SyncRefused(_already_running()) from None


def queue_sync(job: SyncJob) -> SyncJob:
    """Hand a created or resumed sync to the workers."""
    task_id = async_task(RUN_SYNC, job.pk, task_name=f"sync-catalog-{job.pk}")
    SyncJob.objects.filter(pk=job.pk).update(task_id=str(task_id or ""))
    return job


def cancel_sync(job_id: int) -> SyncJob:
    """A queued or orphaned sync stops at once; a running one after its batch in flight."""
    mark_interrupted()
    stopped = SyncJob.objects.filter(pk=job_id).cancel()
    job = _get(job_id)
    if not stopped:
        raise SyncRefused(
            f"Sync #{job.pk} is {job.get_status_display().lower()}; there is nothing to cancel"
        )
    return job


def resume_sync(job_id: int) -> SyncJob:
    """Mark a stopped sync queued again (the caller runs or queues it): it goes on with the
    titles it has not done."""
    mark_interrupted()
    with transaction.atomic():
        job = _get(job_id, locked=True)
        if job.status not in SyncJob.STOPPED_STATUSES:
            raise SyncRefused(
                f"Sync #{job.pk} is {job.get_status_display().lower()}; only stopped syncs resume"
            )
        job.status = Status.QUEUED
        job.last_error = ""
        job.finished_at = None
        job.eta_seconds = None
        job.recovered_at = None  # the watchdog sets it again when it is the one resuming
        try:
            with transaction.atomic():
                job.save()
        except IntegrityError:
            raise SyncRefused(_already_running()) from None
    return job


def take_over() -> SyncJob | None:
    """The active sync when its worker is gone: recorded as interrupted and queued again, for
    the caller to run itself (`sync_catalog` run again after it was killed). None while a
    worker still runs it, or when there is none."""
    mark_interrupted()
    stopped = SyncJob.objects.filter(status=Status.INTERRUPTED).order_by("-created_at").first()
    if stopped is None or SyncJob.objects.active().exists():
        return None
    return resume_sync(stopped.pk)


def recover_sync() -> SyncJob | None:
    """The watchdog's part for syncs (every minute), as for embedding jobs:

    1. Record the syncs whose worker died (`mark_interrupted`).
    2. The newest sync, when a dead worker left it interrupted, is queued again; an older one
       stays as it is (a newer sync has covered its days since).
    3. Unless it died again without a title done since the watchdog last resumed it: that one
       stays interrupted, with CRASH_LOOP for a person to read.

    Returns the sync queued again, or None."""
    mark_interrupted()
    newest = SyncJob.objects.order_by("-created_at").first()
    if newest is None or (newest.status, newest.last_error) != (Status.INTERRUPTED, WORKER_GONE):
        return None
    if newest.recovered_at == newest.processed:
        SyncJob.objects.filter(pk=newest.pk, status=Status.INTERRUPTED).update(
            last_error=CRASH_LOOP
        )
        logger.warning("Sync #%s stopped twice at the same point; left interrupted", newest.pk)
        return None
    try:
        job = resume_sync(newest.pk)
    except SyncRefused:
        return None  # resumed or restarted by someone else meanwhile
    SyncJob.objects.filter(pk=job.pk).update(recovered_at=newest.processed)
    logger.info("Sync #%s: its worker died; queued again", job.pk)
    return queue_sync(job)


def mark_interrupted() -> int:
    """Syncs whose worker is gone: running ones become interrupted (resumable), cancelling ones
    cancelled; one conditional UPDATE each, so two callers never record one twice."""
    orphaned = SyncJob.objects.orphaned().values_list("pk", "status")
    changed = 0
    for job_id, status in list(orphaned):
        one = SyncJob.objects.filter(pk=job_id)
        if status == Status.CANCELLING:
            changed += one.move(Status.CANCELLED, from_=[status], finished_at=timezone.now())
        else:
            changed += one.move(Status.INTERRUPTED, from_=[status], last_error=WORKER_GONE)
    return changed


def _already_running() -> str:
    return "A content sync is already running; cancel it or wait for it to end"


def _get(job_id: int, *, locked: bool = False) -> SyncJob:
    jobs = SyncJob.objects.select_for_update() if locked else SyncJob.objects.all()
    job = jobs.filter(pk=job_id).first()
    if job is None:
        raise SyncRefused(f"There is no sync #{job_id}")
    return job
