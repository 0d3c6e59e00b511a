"""The embedded server starts with the settings the environment gives it."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

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


def test_the_default_is_a_quarter_of_memory_within_postgresql_bounds() -> None:
    megabytes = int(database.default_shared_buffers().removesuffix("MB"))
    assert 128 <= megabytes <= 4096
    total = Path("/proc/meminfo").read_text().split()[1]  # MemTotal in kB
    assert megabytes <= max(int(total) // 1024 // 4, 128)
