"""Where jobs meet django-q: the task that runs a job, queued when a job starts or resumes and
again to spread it over free workers, and the queue entries of a job's tasks."""

from __future__ import annotations

from collections.abc import Iterator

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import OrmQ
from django_q.tasks import async_task

from embeddings.models import EmbeddingJob
from embeddings.providers import Provider
from embeddings.worker_locks import workers_on

# The worker's entry point for a job (a dotted path: the map of tasks sits above the jobs).
RUN_JOB = "embeddings.tasks.run_job"
TASK_NAMES = {"movie": "generate-movie-embeddings", "series": "generate-series-embeddings"}


def enqueue(job: EmbeddingJob) -> None:
    task_id = async_task(RUN_JOB, job.pk, spread=True, task_name=TASK_NAMES[job.kind])
    EmbeddingJob.objects.filter(pk=job.pk).update(task_id=str(task_id or ""))


def spread_job(job_id: int, provider: Provider) -> None:
    """Call one more free worker in: queue another task for the job, unless one already waits
    for a worker or `JOB_WORKERS` work on it. Each worker that joins and finds work does the
    same, so a job spreads over every free worker, one queue poll apart. A task still waiting
    when the job ends finds nothing to do and ends at once.

    A local model's job stays where it is: sentence-transformers uses every core of its machine,
    and a second copy of the model on the same cores only shares them."""
    if provider.model.provider == "local" or Conf.SYNC:
        return  # (Conf.SYNC: tasks run inline, in this very worker: there is no other)
    with transaction.atomic():
        # The job's row lock makes workers joining at the same moment queue one task, not each.
        kind = (
            EmbeddingJob.objects.select_for_update()
            .filter(pk=job_id, status=EmbeddingJob.Status.RUNNING)
            .values_list("kind", flat=True)
            .first()
        )
        if kind is None or workers_on(job_id) >= settings.JOB_WORKERS:
            return
        if next(queue_entries({job_id}, taken=False), None) is None:
            async_task(RUN_JOB, job_id, spread=True, task_name=TASK_NAMES[kind])


def queue_entries(job_ids: set[int], *, taken: bool) -> Iterator[OrmQ]:
    """The queue's entries of these jobs' tasks: those a worker took, or those still waiting."""
    now = timezone.now()
    entries = OrmQ.objects.filter(lock__gt=now) if taken else OrmQ.objects.filter(lock__lte=now)
    for entry in entries:
        args = entry.task.get("args") or ()
        if entry.task.get("func") == RUN_JOB and args and args[0] in job_ids:
            yield entry


def forget_queue_entries(job_ids: set[int]) -> None:
    """Delete the in-flight queue entries of dead workers' tasks for these jobs."""
    for entry in queue_entries(job_ids, taken=True):
        entry.delete()
