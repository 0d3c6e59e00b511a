"""Jobs brought back after their workers died: the watchdog queues them again within a minute,
unless one keeps dying at the same point (a crash loop), and a foreground run takes over the
job its killed shell left behind."""

from __future__ import annotations

import contextlib
import logging

from django.db import transaction

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


def recover_jobs() -> list[int]:
    """The schedule's watchdog (every minute): record jobs whose workers died and queue each
    one again, so a crash costs a minute at most. A job that died again without processing an
    item since the watchdog last queued it stays interrupted (see CRASH_LOOP). Returns the ids
    it queued."""
    interrupted, _ = record_orphans()
    resumed = []
    for job in EmbeddingJob.objects.filter(pk__in=interrupted).order_by("pk"):
        one = EmbeddingJob.objects.filter(pk=job.pk)
        if job.recovered_at == job.processed:
            one.update(last_error=CRASH_LOOP)
            logger.warning("Job #%s stopped twice at the same point; left interrupted", job.pk)
            continue
        with contextlib.suppress(JobRefused):
            resume_job(job.pk)
            one.update(recovered_at=job.processed)
            resumed.append(job.pk)
    return resumed


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
