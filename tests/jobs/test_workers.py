"""Real worker processes on the test database: a qcluster, workers killed mid-job, two workers
on one job, a job spreading over two clusters. Slow (each process starts Django, some load the
local model), so there are only a few."""

from __future__ import annotations

import re
import signal
import time
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone
from django_q.models import OrmQ

from embeddings import jobs
from embeddings.models import EmbeddingJob
from embeddings.registry import resolve
from embeddings.workbench.scale_out import scale_out
from embeddings.worker_locks import workers_on
from tests.conftest import make_item
from tests.jobs.conftest import LOCAL_MODEL, job_state, stop, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True, serialized_rollback=True)]
Status = EmbeddingJob.Status
SMALL = "openai:text-embedding-3-small@768"


def films(n: int) -> None:
    for i in range(n):
        make_item(
            title=f"Film {i}", overview=f"Story {i}: a cartographer maps a sea that keeps moving."
        )
    make_item(title="")  # nothing to embed: skipped, never stored


def stored_items(model: str = LOCAL_MODEL) -> list[int]:
    table = resolve(model).table
    return list(table.objects.for_model(model).values_list("item_id", flat=True))


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


def test_a_killed_command_is_seen_at_once_and_the_same_command_run_again_resumes_its_job(
    spawn, worker_env, fake_openai, staff_client, tmp_path: Path
) -> None:
    """Finding 4 of issue 11: a job whose worker died showed as running for the heartbeat
    timeout, and running the same command again was refused as "already running"."""
    films(120)
    worker_env.update(fake_openai.env)  # a provider over the wire: no model to load
    fake_openai.fail_forever("slow:0.05")
    command = ("generate_embeddings", "--kind", "movie", "--model", SMALL, "--mode", "all")
    worker = spawn(*command, "--batch-size", "4", "--no-progress")
    job = wait_for(lambda: EmbeddingJob.objects.filter(done__gte=8).first(), what="a few batches")

    stop(worker, signal.SIGKILL)
    killed_at = job_state(job.pk)
    assert killed_at.status == Status.RUNNING and 8 <= killed_at.done < 120
    assert len(stored_items(SMALL)) == killed_at.done

    # The next page view says so at once (the heartbeat is still fresh), and writes nothing.
    row = wait_for(
        lambda: "Interrupted" in (page := row_html(staff_client, job.pk)) and page,
        timeout=5,
        what="the row to show the dead worker",
    )
    assert "Resume</button>" in row and "hx-trigger" not in row
    assert job_state(job.pk).status == Status.RUNNING

    again = spawn(*command, "--batch-size", "4", "--no-progress")
    assert again.wait(timeout=300) == 0

    log = (tmp_path / "worker-1.log").read_text()
    assert f"Job #{job.pk}'s worker had stopped: resuming it here." in log
    state = job_state(job.pk)
    items = stored_items(SMALL)
    assert (state.status, state.total, state.done, state.skipped, state.failed) == (
        Status.COMPLETED, 121, 120, 1, 0,
    )  # fmt: skip
    assert len(items) == len(set(items)) == 120
    assert EmbeddingJob.objects.count() == 1
    # At most the batch in flight when it died was embedded twice.
    assert len(fake_openai.inputs) <= 120 + 4


def test_a_killed_qcluster_task_is_recovered_by_the_schedule_and_its_queue_entry_freed(
    spawn, worker_env, fake_openai
) -> None:
    """The schedule's watchdog finds the dead worker at once, frees the task's queue entry
    (which stayed locked for Q_TIMEOUT, 6 h) and queues the job again."""
    films(120)
    worker_env.update(fake_openai.env, JOB_WORKERS="1")  # this job stays on one worker
    fake_openai.fail_forever("slow:0.05")
    job = jobs.start_job("movie", SMALL, "all", batch_size=4)
    cluster = spawn("qcluster")
    wait_for(lambda: job_state(job.pk).done >= 8, timeout=150, what="a few batches")
    stop(cluster, signal.SIGKILL)
    assert OrmQ.objects.filter(lock__gt=timezone.now()).count() == 1  # the dead task's entry

    resumed = wait_for(jobs.recover_jobs, timeout=10, what="the watchdog to see the dead worker")

    assert resumed == [job.pk]
    assert job_state(job.pk).status == Status.QUEUED
    # Only the new task's entry is left, free for the next worker to take.
    [entry] = OrmQ.objects.all()
    assert entry.task["args"] == (job.pk,) and entry.lock <= timezone.now()


def row_html(client, job_id: int) -> str:
    url = reverse("embeddings:job_row", args=[job_id])
    return client.get(url, HTTP_HX_REQUEST="true").content.decode()


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


def test_a_job_started_once_spreads_to_a_second_cluster_and_every_item_is_embedded_once(
    spawn, worker_env, fake_openai
) -> None:
    """The jobs page queues one task; a worker that finds work calls one more free worker in.
    Two one-worker clusters: the second can only get a task if the first, busy, left it in
    the queue."""
    films(160)
    worker_env.update(fake_openai.env)
    fake_openai.fail_forever("slow:0.1")
    job = jobs.start_job("movie", SMALL, "all", batch_size=4)
    spawn("qcluster")
    spawn("qcluster")

    wait_for(lambda: workers_on(job.pk) == 2, timeout=120, what="a second worker on the job")
    wait_for(lambda: job_state(job.pk).status == Status.COMPLETED, timeout=120, what="the end")

    state = job_state(job.pk)
    items = stored_items(SMALL)
    assert (state.done, state.failed) == (160, 0)
    assert len(items) == len(set(items)) == 160
    assert len(fake_openai.inputs) == 160  # nobody embedded an item twice


def test_a_busy_one_worker_cluster_leaves_the_next_task_in_the_queue_for_another(
    spawn, worker_env, fake_openai
) -> None:
    """django-q's own ORM broker takes tasks ahead of its workers (up to three for a one-worker
    cluster), where they wait for hours behind a long job while other clusters sit idle."""
    films(120)
    make_item(kind="series", title="A series", overview="Lighthouse keepers, season one.")
    worker_env.update(fake_openai.env, JOB_WORKERS="1")
    fake_openai.fail_forever("slow:0.05")
    movies = jobs.start_job("movie", SMALL, "all", batch_size=4)
    spawn("qcluster")
    wait_for(lambda: job_state(movies.pk).done >= 8, timeout=120, what="a few batches")

    series = jobs.start_job("series", SMALL, "all", batch_size=4)
    time.sleep(2.5)  # five of the cluster's polls

    assert job_state(movies.pk).status == Status.RUNNING
    [entry] = [entry for entry in OrmQ.objects.all() if entry.task["args"] == (series.pk,)]
    assert entry.lock <= timezone.now(), "the busy cluster took a task it could not start"
    # Still there for the same cluster once its worker is free: nothing is lost.
    wait_for(lambda: job_state(series.pk).status == Status.COMPLETED, timeout=120, what="series")
    assert job_state(movies.pk).status == Status.COMPLETED


def test_the_scale_out_bench_spreads_its_job_over_real_clusters_and_reports_both_rates(
    worker_env,
) -> None:
    """`bench_pipeline --workers 2 --latency-ms 20` on a small catalog: each run's job is
    started once, as the page starts it, and reaches both clusters."""
    films(60)  # and one without text

    result = scale_out(2, 20, 4, lambda text: None)

    assert result["workers"] == result["workers_on_the_job"] == 2
    assert 30 <= result["provider_requests"] <= 32  # 15 full batches a run, at most a crumb more
    assert result["items_per_s"] > 0 and result["items_per_s_one_worker"] > 0
    assert result["speedup_vs_one_worker"] > 0 and result["speedup_whole_job"] > 0
    assert result["spread_s"] >= 0
    assert not OrmQ.objects.exists()  # no task left over for the next run


def test_the_scale_out_bench_under_a_quota_reports_requests_429s_and_the_rate(
    worker_env,
) -> None:
    """`bench_pipeline --quota-rpm 120` on 80 items: the workers learn the quota from the
    provider's headers and pace themselves below it, with no storm of 429s."""
    films(80)

    result = scale_out(2, 20, 8, lambda text: None, quota_rpm=120)

    assert result["quota_rpm"] == 120
    assert result["requests"] >= 10  # 80 items in batches of 8, and any 429s on top
    assert result["rate_limited"] <= 1
    assert 0 < result["requests_per_minute"] <= 120
