"""Jobs brought back after their workers died: the watchdog queues them again within a minute,
and the start-up after the whole app stopped, unless one keeps dying at the same point (a crash
loop); a foreground run takes over the job its killed shell left behind."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field

from django.db import transaction

from embeddings.jobs.bulk_load import restore_missing_indexes
from embeddings.jobs.lifecycle import JobRefused, locked_job, requeue, resolved_model, resume_job
from embeddings.jobs.orphans import record_orphans
from embeddings.models import EmbeddingJob

# One logger name for every line about jobs, whichever module of the package writes it.
logger = logging.getLogger("embeddings.jobs")

CRASH_LOOP = (
    "Its worker stopped again before finishing a single batch since the last automatic resume, "
    "so it was not started a third time (each try may pay for the same batch). Check the "
    "worker's log, then resume it by hand."
)


@dataclass
class Recovery:
    """What one pass of `recover` did."""

    resumed: list[EmbeddingJob] = field(default_factory=list)
    # Crash loops: left interrupted for a person to look at (see CRASH_LOOP).
    held: list[EmbeddingJob] = field(default_factory=list)
    # Tables whose missing HNSW index was built again.
    indexed: list[str] = field(default_factory=list)


def recover() -> Recovery:
    """Bring back what dead workers left, so a crash or a restart costs a minute at most:

    1. Record the jobs whose workers are gone (a killed worker, or the whole app stopped).
    2. Queue each of them again, except one that died again without processing an item since
       it was last queued this way: that one stays interrupted (see CRASH_LOOP).
    3. Build any HNSW index a load left missing (see `restore_missing_indexes`).

    The schedule runs this every minute (`recover_jobs`), and the start-up once, before the
    worker starts."""
    interrupted, _ = record_orphans()
    recovery = Recovery()
    for job in EmbeddingJob.objects.filter(pk__in=interrupted).order_by("pk"):
        one = EmbeddingJob.objects.filter(pk=job.pk)
        if job.recovered_at == job.processed:
            one.update(last_error=CRASH_LOOP)
            logger.warning("Job #%s stopped twice at the same point; left interrupted", job.pk)
            recovery.held.append(job)
            continue
        with contextlib.suppress(JobRefused):
            resume_job(job.pk)
            one.update(recovered_at=job.processed)
            recovery.resumed.append(job)
    recovery.indexed = restore_missing_indexes()
    return recovery


def recover_jobs() -> list[int]:
    """The schedule's watchdog (every minute): `recover`; returns the ids it queued again."""
    return [job.pk for job in recover().resumed]


def take_over(kind: str, model_key: str) -> EmbeddingJob | None:
    """The active job for this kind and model when all its workers are gone: recorded as
    interrupted and queued again, for the caller to work on itself (`generate_embeddings` run
    again after its shell was killed). None while a worker still has it."""
    try:
        key = resolved_model(model_key).key
    except JobRefused:
        return None
    active = EmbeddingJob.objects.active().filter(kind=kind, model_key=key).first()
    if active is None or active.pk not in record_orphans()[0]:
        return None
    with transaction.atomic():
        job = locked_job(active.pk)
        requeue(job)
    return job
