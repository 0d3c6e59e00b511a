"""A content sync killed mid-way, in a real `manage.py sync_catalog` process, and resumed."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from subprocess import Popen

import pytest

from catalog.models import CatalogItem, SyncJob
from catalog.tmdb.control import today
from tests.conftest import make_item
from tests.fakes.tmdb_server import FakeTMDb, movie
from tests.jobs.conftest import spawn, stop, wait_for, worker_env

__all__ = ["spawn", "worker_env"]  # fixtures used here

TITLES = 300


@pytest.fixture
def tmdb_env(worker_env: dict[str, str]) -> Iterator[FakeTMDb]:
    server = FakeTMDb().start()
    worker_env.update(server.env)
    yield server
    server.stop()


def processed(job_id: int) -> int:
    return SyncJob.objects.get(pk=job_id).processed


def test_a_sync_killed_mid_way_is_seen_interrupted_and_the_same_command_resumes_it(
    tmdb_env: FakeTMDb, spawn: Callable[..., Popen[bytes]]
) -> None:
    for n in range(1, TITLES + 1):
        tmdb_env.add(movie(n, overview=f"Rewritten {n}."), changed=today())
        make_item(tmdb_id=n, title=f"Film {n}", overview="Old.")
    command = ("sync_catalog", "--source", "tmdb", "--no-progress", "--requests-per-second", "50")

    first = spawn(*command)
    job_id = wait_for(lambda: SyncJob.objects.values_list("pk", flat=True).first(), what="a sync")
    wait_for(lambda: processed(job_id) >= 100, timeout=60, what="a third of the titles")
    stop(first, signal.SIGKILL)

    killed = SyncJob.objects.with_workers().get(pk=job_id)
    assert killed.get_state_display() == "Interrupted"
    done_before = killed.processed
    assert done_before < TITLES

    second = spawn(*command)
    assert second.wait(timeout=120) == 0

    job = SyncJob.objects.get(pk=job_id)
    assert (job.status, job.updated, job.total) == ("completed", TITLES, TITLES)
    assert SyncJob.objects.count() == 1  # resumed, not started afresh
    assert CatalogItem.objects.filter(overview="Old.").count() == 0
    details = [r for r in tmdb_env.requests if "changes" not in r.path]
    # What was written before the kill is not fetched again; only the batch in flight may be.
    assert len(details) <= TITLES + 100
