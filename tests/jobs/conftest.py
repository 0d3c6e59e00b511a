"""Worker processes for the jobs tests: real `manage.py` subprocesses on the test database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from embeddings.models import EmbeddingJob
from embeddings.worker_locks import JOB_LOCKS

LOCAL_MODEL = "local:all-MiniLM-L6-v2"


@pytest.fixture
def worker_env(transactional_db: None) -> dict[str, str]:
    """The environment a subprocess needs to reach this test's database (a unix socket)."""
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{quote(str(db['HOST']), safe='')}/{db['NAME']}"
    return {
        **os.environ,
        "DATABASE_URL": url,
        # Tasks are signed with the secret key: the workers must share this process's.
        "SECRET_KEY": settings.SECRET_KEY,
        "HF_HUB_OFFLINE": "1",
        "LOG_LEVEL": "WARNING",
        "Q_WORKERS": "1",
    }


@pytest.fixture
def spawn(
    worker_env: dict[str, str], tmp_path: Path
) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start `manage.py <args>` in its own process group; every one is stopped at teardown."""
    started: list[subprocess.Popen[bytes]] = []

    def start(*args: str) -> subprocess.Popen[bytes]:
        log = (tmp_path / f"worker-{len(started)}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "manage.py", *args],
            cwd=settings.BASE_DIR,
            env=worker_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        stop(proc)


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def wait_for(condition: Callable[[], Any], timeout: float = 120, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def job_state(job_id: int) -> EmbeddingJob:
    return EmbeddingJob.objects.get(pk=job_id)


class LiveWorkers:
    """Stands in for worker processes: another database session holding jobs' worker locks,
    as `work_on_job` does, until `stop()` (a killed process) or the end of the test."""

    def __init__(self) -> None:
        db = connection.settings_dict
        self._session = psycopg.connect(
            host=db["HOST"], port=db["PORT"] or None, dbname=db["NAME"], user=db["USER"],
            password=db["PASSWORD"] or None, autocommit=True,
        )  # fmt: skip

    def hold(self, job_id: int) -> None:
        self._session.execute("SELECT pg_advisory_lock_shared(%s, %s)", [JOB_LOCKS, job_id])

    def claim(self, model_key: str, item_ids: list[int]) -> None:
        """Hold these items as a worker embedding them does (`worker_locks.claim_items`)."""
        self._session.execute(
            "SELECT pg_advisory_lock(hashtextextended(%s || ':' || id, 0))"
            " FROM unnest(%s::bigint[]) AS id",
            [model_key, item_ids],
        )

    def stop(self) -> None:
        self._session.close()


@pytest.fixture
def live_workers(db: None) -> Iterator[LiveWorkers]:
    workers = LiveWorkers()
    yield workers
    workers.stop()
