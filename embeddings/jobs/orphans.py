"""Jobs whose workers are gone, found and recorded: a running job becomes interrupted
(resumable), a cancelling one cancelled. Workers coming up, the schedule and every action on a
job call this; what brings an interrupted job back is `embeddings.jobs.recovery`."""

from __future__ import annotations

from django.utils import timezone

from embeddings.jobs.bulk_load import restore_index
from embeddings.jobs.queue import forget_queue_entries
from embeddings.models import EmbeddingJob

Status = EmbeddingJob.Status

WORKER_GONE = "Its worker stopped (the process ended before the job did); resume to go on."


def mark_interrupted() -> int:
    """Jobs whose workers are gone: running ones become interrupted (resumable), cancelling
    ones cancelled. Returns how many changed. Workers, the schedule and every action on a job
    (a POST) call this, never a page."""
    interrupted, cancelled = record_orphans()
    return len(interrupted) + cancelled


def record_orphans() -> tuple[list[int], int]:
    """(ids of the jobs now interrupted, how many were cancelled).

    1. A job is orphaned when no session holds its worker lock (the process died and
       PostgreSQL dropped the lock with its session) or its heartbeat is too old.
    2. Each moves with a conditional UPDATE, so two callers never record one twice.
    3. The dead task's django-q queue entry is removed: it would otherwise stay locked for
       the broker's retry period (Q_TIMEOUT) and then run the job a second time.
    4. A worker killed during a bulk load leaves its table without the HNSW index: build it.
    """
    found = list(EmbeddingJob.objects.orphaned().values_list("pk", "status"))
    interrupted, cancelled = [], 0
    for job_id, status in found:
        one = EmbeddingJob.objects.filter(pk=job_id)
        if status == Status.CANCELLING:
            cancelled += one.move(
                Status.CANCELLED, from_=[Status.CANCELLING], finished_at=timezone.now()
            )
        elif one.move(Status.INTERRUPTED, from_=[Status.RUNNING], last_error=WORKER_GONE):
            interrupted.append(job_id)
    if found:
        forget_queue_entries({job_id for job_id, _ in found})
    for job_id, _ in found:
        restore_index(job_id)
    return interrupted, cancelled
