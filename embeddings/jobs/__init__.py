"""Regeneration jobs: select what needs work, build texts, embed in batches, upsert, count.

Job state lives in `EmbeddingJob`, so any number of django-q2 workers (or shell commands) can
work on one job at once, a crashed worker loses at most its batch in flight, and a page reload
shows the truth. One module per concern, each importing only those listed before it:

- `stale`: what needs embedding, decided in SQL;
- `selection`: what a job still has to do, and the batches of it a worker claims;
- `metering`: what a batch costs, the spending cap, rate and ETA;
- `queue`: where jobs meet django-q (queueing a job's task, spreading it, its queue entries);
- `bulk_load`: an empty table filled without its HNSW index, indexed again at the end;
- `orphans`: jobs whose workers are gone, found and recorded;
- `lifecycle`: create, start, cancel, resume, retry (and `JobRefused`);
- `recovery`: the watchdog (and the start-up) that queues orphaned jobs again and mends missing
  indexes, and taking over a dead job;
- `embedding`: embedding a batch and storing its vectors;
- `runner`: running a job, from joining it to stopping or completing it.

What follows a completed job is `embeddings.tasks`'s, never this package's.
"""

from __future__ import annotations

from embeddings.jobs.embedding import EmbedResult, embed_batch, embed_items, store_vectors
from embeddings.jobs.lifecycle import (
    MAX_SPENDING_CAP,
    JobRefused,
    cancel_job,
    create_job,
    resume_job,
    retry_failed,
    start_job,
)
from embeddings.jobs.orphans import WORKER_GONE, mark_interrupted
from embeddings.jobs.queue import RUN_JOB, TASK_NAMES
from embeddings.jobs.recovery import CRASH_LOOP, Recovery, recover, recover_jobs, take_over
from embeddings.jobs.runner import ProgressCallback, WorkerReport, run_job, work_on_job
from embeddings.jobs.selection import Work, pending_work

__all__ = [
    "CRASH_LOOP",
    "MAX_SPENDING_CAP",
    "RUN_JOB",
    "TASK_NAMES",
    "WORKER_GONE",
    "EmbedResult",
    "JobRefused",
    "ProgressCallback",
    "Recovery",
    "Work",
    "WorkerReport",
    "cancel_job",
    "create_job",
    "embed_batch",
    "embed_items",
    "mark_interrupted",
    "pending_work",
    "recover",
    "recover_jobs",
    "resume_job",
    "retry_failed",
    "run_job",
    "start_job",
    "store_vectors",
    "take_over",
    "work_on_job",
]
