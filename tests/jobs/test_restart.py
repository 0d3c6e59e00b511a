"""The whole app stopped mid-job (a deploy, a reboot, a kill -9) and started again: the jobs it
interrupted resume by themselves at start-up, and the start-up says so; one that keeps killing
its worker is left for a person."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import urllib.request

import psutil
import pytest
from django.utils import timezone

from embeddings import jobs, startup
from embeddings.models import EmbeddingJob, EmbeddingSettings
from embeddings.registry import resolve
from tests.conftest import make_item
from tests.jobs.conftest import LOCAL_MODEL, job_state, wait_for

Status = EmbeddingJob.Status
SMALL = "openai:text-embedding-3-small@768"


def films(n: int) -> None:
    for i in range(n):
        make_item(title=f"Film {i}", overview=f"Story {i}: a ferryman counts the fog's days.")
    make_item(title="")  # nothing to embed: skipped, never stored


def stored_items(model: str) -> list[int]:
    table = resolve(model).table
    return list(table.objects.for_model(model).values_list("item_id", flat=True))


def died_running(job: EmbeddingJob, done: int) -> None:
    """The job as a killed app leaves it: running, no worker holding it."""
    EmbeddingJob.objects.filter(pk=job.pk).update(
        status=Status.RUNNING, done=done, started_at=timezone.now(), heartbeat_at=timezone.now()
    )


def start_up_lines() -> list[str]:
    return list(startup.prepare())


@pytest.mark.django_db
def test_the_start_up_resumes_a_job_the_last_stop_interrupted_and_says_so() -> None:
    films(3)
    job = jobs.create_job("movie", LOCAL_MODEL, "all")
    died_running(job, done=1)

    lines = start_up_lines()

    assert f"Resumed 1 job interrupted by the last stop: #{job.pk} {LOCAL_MODEL} movie" in lines
    assert job_state(job.pk).status == Status.QUEUED
    assert jobs.run_job(job.pk) == Status.COMPLETED


@pytest.mark.django_db
def test_a_job_that_keeps_killing_its_worker_is_not_resumed_at_start_up_again() -> None:
    films(3)
    job = jobs.create_job("movie", LOCAL_MODEL, "all")
    died_running(job, done=1)
    start_up_lines()  # resumed once…
    died_running(job, done=1)  # …and the app died again at the same point

    lines = start_up_lines()

    assert not any(line.startswith("Resumed") for line in lines)
    assert (
        f"Not resumed: #{job.pk} {LOCAL_MODEL} movie stopped its worker twice at the same point; "
        "see its error on the jobs page, then resume it there"
    ) in lines
    state = job_state(job.pk)
    assert state.status == Status.INTERRUPTED and state.last_error == jobs.CRASH_LOOP


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def kill_the_whole_app(run: subprocess.Popen[bytes]) -> None:
    """SIGKILL to every process of the app at once: the run and the web server and worker it
    started, each leading a process group of its own."""
    parent = psutil.Process(run.pid)
    groups = {os.getpgid(p.pid) for p in [parent, *parent.children(recursive=True)]}
    assert len(groups) == 3, "expected the run, its web server and its worker"
    for group in groups:
        os.killpg(group, signal.SIGKILL)
    run.wait(timeout=10)


def answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/admin/login/", timeout=2) as page:
            return bool(page.status == 200)
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_job_running_when_the_whole_app_is_killed_completes_after_the_next_start(
    spawn, worker_env, fake_openai, tmp_path
) -> None:
    films(160)
    config = EmbeddingSettings.load()
    config.active_model_key = SMALL
    config.save()
    port = free_port()
    worker_env.update(
        fake_openai.env, PORT=str(port), RECLIO_DATA_DIR=str(tmp_path / "data"),
        RECLIO_ADMIN_PASSWORD="restart-test-password", JOB_WORKERS="1",
    )  # fmt: skip
    fake_openai.fail_forever("slow:0.1")
    job = jobs.start_job("movie", SMALL, "all", batch_size=4)

    first = spawn("run")
    wait_for(lambda: answers(port), timeout=120, what="the app to answer")
    wait_for(lambda: job_state(job.pk).done >= 8, timeout=120, what="a few batches")
    kill_the_whole_app(first)
    killed = job_state(job.pk)
    assert killed.status == Status.RUNNING and 8 <= killed.done < 160

    spawn("run")
    wait_for(lambda: job_state(job.pk).status == Status.COMPLETED, timeout=180, what="the end")

    log = (tmp_path / "worker-1.log").read_text()
    assert f"Resumed 1 job interrupted by the last stop: #{job.pk} {SMALL} movie" in log
    state = job_state(job.pk)
    items = stored_items(SMALL)
    assert (state.total, state.done, state.skipped, state.failed) == (161, 160, 1, 0)
    assert len(items) == len(set(items)) == state.total - state.skipped
    assert EmbeddingJob.objects.count() == 1
