"""What the worker runs by the clock, and what the first start queues.

The daily content sync (03:00, local time) refreshes the active model's set with what is new or
changed; the hourly upkeep probes the active model's provider, with the same probe as the
settings page, and records the jobs a dead worker left behind. On the very first start the
active model gets the jobs that fill its set.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from django_q.models import Schedule

from catalog.models import CatalogItem
from embeddings.jobs import TASK_NAMES, JobRefused, mark_interrupted, start_job
from embeddings.models import EmbeddingJob, EmbeddingSettings, HealthCheck
from embeddings.providers.probe import check
from embeddings.registry import UnknownModel, resolve
from embeddings.storage import set_exists

logger = logging.getLogger(__name__)

SCHEDULE_SYNC = "Daily content sync"
SCHEDULE_HEALTH = "Hourly provider health check"
SCHEDULE_WATCHDOG = "Job watchdog"


def start_content_sync(user: Any = None) -> list[EmbeddingJob]:
    """The daily sync: a `stale` job per kind for the active model; one already running is kept."""
    key = EmbeddingSettings.load().active_key
    jobs = []
    for kind in TASK_NAMES:
        try:
            jobs.append(start_job(kind, key, EmbeddingJob.Mode.STALE, user=user))
        except JobRefused:
            if running := EmbeddingJob.objects.active().filter(kind=kind, model_key=key).first():
                jobs.append(running)
            else:
                raise
    return jobs


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
            "embeddings.tasks.start_content_sync",
            Schedule.DAILY,
            three if three > now else three + timedelta(days=1),
        ),
        SCHEDULE_HEALTH: (
            "embeddings.tasks.health_check",
            Schedule.HOURLY,
            now + timedelta(minutes=1),
        ),
        # A job whose workers all died is recorded and queued again within a minute.
        SCHEDULE_WATCHDOG: ("embeddings.jobs.recover_jobs", Schedule.MINUTES, now),
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
    jobs = []
    for kind in TASK_NAMES:
        if CatalogItem.objects.filter(kind=kind).exists():
            try:
                jobs.append(start_job(kind, model, EmbeddingJob.Mode.STALE))
            except JobRefused:
                continue  # already queued by an earlier start
    return jobs
