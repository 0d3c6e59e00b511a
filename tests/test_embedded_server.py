"""The embedded server starts with the settings the environment gives it, and starts again
right after a stop, even one still under way."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import psycopg
import pytest
from django.conf import settings

from reclio_admin import database


@pytest.fixture
def server_dir(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A second embedded server's folder inside the project's data folder (never a shared
    temporary folder: the server opens read permission on its parents), stopped and removed after."""
    monkeypatch.setattr(database, "started_here", database.started_here)
    folder = Path(settings.DATA_DIR) / f"test-server-{uuid.uuid4().hex[:8]}"
    yield folder
    database.stop_embedded_server(folder)
    shutil.rmtree(folder, ignore_errors=True)


def _postmaster(folder: Path) -> tuple[int, str]:
    """The server's process id and status (`ready`, `stopping`, …) from its postmaster.pid."""
    lines = (database.pgdata_dir(folder) / "postmaster.pid").read_text().splitlines()
    return int(lines[0]), lines[-1].strip()


def _exited(pid: int) -> bool:
    """No such process, or one that has exited and waits for its parent to collect it."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _answers(socket_dir: Path) -> bool:
    with psycopg.connect(host=str(socket_dir), user="postgres", dbname="reclio") as conn:
        return conn.execute("SELECT 1").fetchone() == (1,)


def _shared_buffers(socket_dir: Path) -> str:
    with psycopg.connect(host=str(socket_dir), user="postgres", dbname="postgres") as conn:
        row = conn.execute("SHOW shared_buffers").fetchone()
    assert row is not None
    return str(row[0])


def test_the_server_starts_with_the_configured_shared_buffers_and_a_restart_applies_a_new_value(
    server_dir: Path,
) -> None:
    socket_dir = database.ensure_embedded_server(server_dir, {"shared_buffers": "48MB"})
    assert _shared_buffers(socket_dir) == "48MB"
    # Attaching to the running server changes nothing; the next start reads the new value.
    socket_dir = database.ensure_embedded_server(server_dir, {"shared_buffers": "80MB"})
    assert _shared_buffers(socket_dir) == "48MB"
    assert database.stop_embedded_server(server_dir)
    socket_dir = database.ensure_embedded_server(server_dir, {"shared_buffers": "80MB"})
    assert _shared_buffers(socket_dir) == "80MB"
    conf = (database.pgdata_dir(server_dir) / "postgresql.conf").read_text()
    assert conf.count(f"include_if_exists = '{database.SERVER_CONF}'") == 1


def test_a_start_while_the_server_is_still_stopping_stops_it_and_starts_it_again(
    server_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    socket_dir = database.ensure_embedded_server(server_dir, {})
    pid, _ = _postmaster(server_dir)
    # A smart shutdown waits for every session to leave: this one keeps the server stopping.
    session = psycopg.connect(host=str(socket_dir), user="postgres", dbname="postgres")
    try:
        os.kill(pid, signal.SIGTERM)
        while _postmaster(server_dir)[1] != "stopping":
            time.sleep(0.05)

        socket_dir = database.ensure_embedded_server(server_dir, {})
    finally:
        session.close()

    assert _answers(socket_dir)
    assert _postmaster(server_dir)[0] != pid
    [line] = [r.getMessage() for r in caplog.records if r.name == "reclio_admin.database"]
    assert "was still stopping; it is stopped and started again" in line
    assert caplog.records[0].levelno == logging.WARNING


def test_a_stop_returns_once_the_server_is_gone_and_a_start_right_after_works(
    server_dir: Path,
) -> None:
    database.ensure_embedded_server(server_dir, {})
    pid, _ = _postmaster(server_dir)

    assert database.stop_embedded_server(server_dir)
    stopped = time.monotonic()

    assert not (database.pgdata_dir(server_dir) / "postmaster.pid").exists()
    assert _exited(pid)
    socket_dir = database.ensure_embedded_server(server_dir, {})
    assert _answers(socket_dir)
    assert time.monotonic() - stopped < 5
    assert not database.stop_embedded_server(server_dir / "never-started")


def test_the_default_is_a_quarter_of_memory_within_postgresql_bounds() -> None:
    megabytes = int(database.default_shared_buffers().removesuffix("MB"))
    assert 128 <= megabytes <= 4096
    total = Path("/proc/meminfo").read_text().split()[1]  # MemTotal in kB
    assert megabytes <= max(int(total) // 1024 // 4, 128)
