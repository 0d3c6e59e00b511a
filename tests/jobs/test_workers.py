"""Real worker processes on the test database: a qcluster, a worker killed mid-job, two workers
on one job. Slow (each process loads the local model), so there are only three."""

from __future__ import annotations

import re
import signal
import time
from pathlib import Path

import pytest

from embeddings import jobs
from embeddings.models import Embedding384, EmbeddingJob
from tests.conftest import make_item
from tests.jobs.conftest import LOCAL_MODEL, job_state, stop, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True, serialized_rollback=True)]
Status = EmbeddingJob.Status


def films(n: int) -> None:
    for i in range(n):
        make_item(
            title=f"Film {i}", overview=f"Story {i}: a cartographer maps a sea that keeps moving."
        )
    make_item(title="")  # nothing to embed: skipped, never stored


def stored_items() -> list[int]:
    return list(Embedding384.objects.for_model(LOCAL_MODEL).values_list("item_id", flat=True))


def test_a_qcluster_worker_runs_a_queued_job_and_its_progress_moves(spawn) -> None:
    films(40)
    job = jobs.start_job("movie", LOCAL_MODEL, "all", batch_size=4)
    spawn("qcluster")
    seen: set[int] = set()

    def completed() -> bool:
        state = job_state(job.pk)
        seen.add(state.done)
        return state.status in (Status.COMPLETED, Status.FAILED)

    wait_for(completed, timeout=150, what="the job to finish")

    state = job_state(job.pk)
    assert (state.status, state.total, state.done, state.skipped, state.failed) == (
        Status.COMPLETED,
        41,
        40,
        1,
        0,
    )
    assert any(0 < done < 40 for done in seen), f"no intermediate progress seen: {sorted(seen)}"
    assert state.items_per_second > 0 and state.task_id
    assert len(stored_items()) == 40


def test_a_worker_killed_mid_job_shows_interrupted_and_the_resumed_job_loses_and_repeats_nothing(
    spawn, settings
) -> None:
    films(120)
    job = jobs.create_job("movie", LOCAL_MODEL, "all", batch_size=4)
    worker = spawn("generate_embeddings", "--join", str(job.pk), "--no-progress")
    wait_for(lambda: job_state(job.pk).done >= 8, timeout=150, what="a few batches")

    stop(worker, signal.SIGKILL)
    killed_at = job_state(job.pk)
    assert killed_at.status == Status.RUNNING and 8 <= killed_at.done < 120
    assert len(stored_items()) == killed_at.done

    settings.JOB_HEARTBEAT_TIMEOUT = 1
    time.sleep(1.2)
    assert jobs.mark_interrupted() == 1
    assert job_state(job.pk).status == Status.INTERRUPTED

    jobs.resume_job(job.pk)
    assert jobs.run_job(job.pk) == Status.COMPLETED

    state = job_state(job.pk)
    items = stored_items()
    assert (state.total, state.done, state.skipped, state.failed) == (121, 120, 1, 0)
    assert len(items) == len(set(items)) == 120


def test_two_workers_share_one_job_and_no_item_is_embedded_twice(spawn, tmp_path: Path) -> None:
    films(120)
    job = jobs.create_job("movie", LOCAL_MODEL, "all", batch_size=4)
    workers = [
        spawn("generate_embeddings", "--join", str(job.pk), "--no-progress") for _ in range(2)
    ]

    for worker in workers:
        worker.wait(timeout=300)

    logs = [(tmp_path / f"worker-{i}.log").read_text() for i in range(2)]
    mine = [
        int(m.group(1)) for log in logs if (m := re.search(r"this worker: (\d+) embedded", log))
    ]
    state = job_state(job.pk)
    items = stored_items()
    assert len(mine) == 2, logs
    assert all(count > 0 for count in mine), f"one worker did nothing: {mine}"
    assert sum(mine) == state.done == 120
    assert state.status == Status.COMPLETED
    assert len(items) == len(set(items)) == 120
