"""Rate, elapsed time and ETA of a job, measured against a loopback OpenAI whose first answers
are slow, as a model that loads on its first calls is: the estimate is checked against the time
the rest of the job really took."""

from __future__ import annotations

import time
from itertools import pairwise

import pytest

from embeddings import jobs
from embeddings.models import EmbeddingJob
from tests.conftest import make_item

pytestmark = pytest.mark.django_db
Status = EmbeddingJob.Status
SMALL = "openai:text-embedding-3-small@768"


def films(n: int) -> None:
    for i in range(n):
        make_item(title=f"Film {i}", overview=f"A lighthouse keeper finds bottle number {i}.")


def test_once_a_fifth_is_done_the_eta_is_within_30_percent_of_the_time_the_rest_takes(
    fake_openai,
) -> None:
    films(200)
    fake_openai.script(["slow:2", "slow:2"])  # the model loads over its first two calls
    fake_openai.default = "slow:0.15"
    job = jobs.create_job("movie", SMALL, "stale", batch_size=5)
    at_a_fifth: list[tuple[float, float | None]] = []
    finished: list[float] = []

    def watch(current: EmbeddingJob) -> None:
        if not at_a_fifth and current.done >= current.total / 5:
            at_a_fifth.append((time.monotonic(), current.eta_seconds))
        if not finished and current.done == current.total:
            finished.append(time.monotonic())

    assert jobs.run_job(job.pk, on_progress=watch) == Status.COMPLETED

    [(seen_at, eta)] = at_a_fifth
    real = finished[0] - seen_at
    print(f"ETA at a fifth: {eta:.2f} s; the rest took {real:.2f} s")
    assert eta is not None
    assert abs(eta - real) <= 0.3 * real


def test_time_stopped_and_a_models_load_count_neither_in_elapsed_time_nor_in_the_rate(
    fake_openai,
) -> None:
    films(60)
    fake_openai.script(["slow:1.5"])  # the first call of each run loads the model
    fake_openai.default = "slow:0.1"
    job = jobs.create_job("movie", SMALL, "stale", batch_size=4)
    batches = 0

    def cancel_after_five(current: EmbeddingJob) -> None:
        nonlocal batches
        batches += 1
        if batches == 5:
            jobs.cancel_job(current.pk)

    started = time.monotonic()
    assert jobs.run_job(job.pk, on_progress=cancel_after_five) == Status.CANCELLED
    time.sleep(3)  # stopped
    jobs.resume_job(job.pk)
    fake_openai.script(["slow:1.5"])
    assert jobs.run_job(job.pk) == Status.COMPLETED
    wall = time.monotonic() - started

    job.refresh_from_db()
    assert job.done == 60
    # Two loads and the stop took 6 s of the wall time; the 15 batches about 2.
    assert job.elapsed_seconds is not None and job.elapsed_seconds < wall - 5
    assert job.rate is not None and job.rate > 2 * job.done / wall


def test_a_small_jobs_bar_moves_every_few_percent(fake_openai) -> None:
    films(100)
    job = jobs.create_job("movie", SMALL, "stale", batch_size=64)
    seen: list[float] = [0.0]

    jobs.run_job(job.pk, on_progress=lambda current: seen.append(current.percent))

    steps = [after - before for before, after in pairwise(seen)]
    assert seen[-1] == 100.0
    assert max(steps) <= 5
    assert fake_openai.calls == 25


def test_a_queued_job_and_one_whose_first_batch_is_not_stored_yet_claim_no_rate_or_time(
    fake_openai,
) -> None:
    films(3)
    job = jobs.create_job("movie", SMALL, "stale")
    assert (job.elapsed_seconds, job.rate, job.starting) == (None, None, False)

    EmbeddingJob.objects.filter(pk=job.pk).update(status=Status.RUNNING)
    job.refresh_from_db()
    assert (job.elapsed_seconds, job.rate, job.starting) == (None, None, True)
