"""`python manage.py bench_sync_catalog [--titles 10000] [--json]`: the TMDb content sync's
titles per second, its memory, and its resume after a SIGKILL, in a scratch database.

1. Seed the scratch catalog with `--titles` synthetic films and start a loopback TMDb whose
   change list holds every one of them, each revised (see `tmdb_loopback`).
2. Run `manage.py sync_catalog --source tmdb --base-url …` in a process of its own, paced at
   TMDB_REQUESTS_PER_SECOND; sample its memory as it goes; SIGKILL it once `--kill-at` of the
   titles are done.
3. Run the same command again: it resumes the sync. Rates count each run's own time, and the
   titles fetched twice (the batch in flight at the kill) are counted.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.core.management.base import CommandError
from django.db import connection

from catalog.models import CatalogItem, SyncJob
from embeddings.workbench.bench import synthetic_item
from embeddings.workbench.management.commands.bench_pipeline import scratch_database
from embeddings.workbench.tmdb_loopback import KEY, LoopbackTMDb
from reclio_admin.commands import DatabaseCommand

TIMEOUT_S = 3600
SEED_CHUNK = 2000


class Command(DatabaseCommand):
    help = (
        "Measure the TMDb content sync against a loopback TMDb in a scratch database: titles "
        "per second at TMDb's rate, the sync's memory, and its resume after a SIGKILL."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--titles", type=int, default=10_000, help="Changed titles.")
        parser.add_argument(
            "--latency-ms", type=float, default=100, help="The loopback TMDb's answer time."
        )
        parser.add_argument(
            "--kill-at", type=float, default=0.4, help="Share of titles done at the SIGKILL."
        )
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["titles"] < 1 or not 0 < options["kill_at"] < 1:
            raise CommandError("--titles must be at least 1 and --kill-at between 0 and 1")
        say = (lambda text: None) if options["json"] else self.stdout.write
        with scratch_database():
            result = measure(options["titles"], options["latency_ms"], options["kill_at"], say)
        if options["json"]:
            self.stdout.write(json.dumps(result))
            return
        for name, value in result.items():
            self.stdout.write(f"{name:>28}: {value}")


@dataclass
class _Run:
    started: float
    ended: float = 0.0
    titles: int = 0  # processed by this run
    rss_mb: list[tuple[int, float]] = field(default_factory=list)  # (processed, RSS)


def measure(titles: int, latency_ms: float, kill_at: float, say: Any) -> dict[str, Any]:
    """Seed, sync, kill, resume; the numbers (see the module docstring). Uses the current
    database: a scratch one from the command, a test's in the tests."""
    say(f"Seeding {titles:,} films…")
    _seed(titles)
    server = LoopbackTMDb(titles, latency_ms).start()
    try:
        say(f"Syncing against a loopback TMDb at {settings.TMDB_REQUESTS_PER_SECOND:g} requests/s…")
        first = _run(server, stop_at=max(1, int(titles * kill_at)))
        job = SyncJob.objects.get()
        say(f"Killed at {job.processed:,} titles; resuming…")
        second = _run(server, stop_at=None)
    finally:
        server.stop()
    job = SyncJob.objects.get()
    if job.status != SyncJob.Status.COMPLETED:
        raise CommandError(f"the sync ended {job.status}: {job.last_error}")
    revised = CatalogItem.objects.filter(overview__endswith="(revised)").count()
    busy = (first.ended - first.started) + (second.ended - second.started)
    return {
        "titles": titles,
        "updated": job.updated,
        "revised_in_catalog": revised,
        "requests_per_second_setting": settings.TMDB_REQUESTS_PER_SECOND,
        "latency_ms": latency_ms,
        "titles_per_second": round(job.processed / busy, 1),
        "first_run_titles_per_second": round(first.titles / (first.ended - first.started), 1),
        "resumed_run_titles_per_second": round(second.titles / (second.ended - second.started), 1),
        "killed_at_titles": first.titles,
        "details_fetched": server.details,
        "fetched_twice": server.details - titles,
        "requests": server.requests,
        "rate_limited": server.rate_limited,
        "resumed_run_rss_mb": _quartiles(second),
        "first_run_rss_mb": _quartiles(first),
    }


def _seed(titles: int) -> None:
    for start in range(1, titles + 1, SEED_CHUNK):
        ids = range(start, min(start + SEED_CHUNK, titles + 1))
        CatalogItem.objects.bulk_create(
            [CatalogItem(**synthetic_item(random.Random(i), i - 1)) for i in ids]
        )


def _run(server: LoopbackTMDb, *, stop_at: int | None) -> _Run:
    """One `sync_catalog` process, watched every 0.2 s; SIGKILLed once `stop_at` titles of the
    sync are done (None: left to finish)."""
    before = SyncJob.objects.values_list("pk", flat=True).first()
    done_before = SyncJob.objects.get(pk=before).processed if before else 0
    log = Path(f"/tmp/reclio-bench-sync-{os.getpid()}.log")
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "sync_catalog", "--source", "tmdb", "--no-progress",
         "--base-url", server.base_url],
        cwd=settings.BASE_DIR, env=_env(), stdout=log.open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    run = _Run(time.monotonic())
    deadline = run.started + TIMEOUT_S
    try:
        while time.monotonic() < deadline:
            job = SyncJob.objects.first()
            processed = job.processed if job else 0
            run.titles = processed - done_before
            if (rss := _rss_mb(proc.pid)) is not None and job and job.listed:
                run.rss_mb.append((run.titles, rss))
            if stop_at is not None and processed >= stop_at:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                run.ended = time.monotonic()
                return run
            if proc.poll() is not None:
                run.ended = time.monotonic()
                if proc.returncode:
                    raise CommandError(log.read_text(errors="replace")[-2000:])
                run.titles = SyncJob.objects.get().processed - done_before
                return run
            time.sleep(0.2)
        raise CommandError(f"the sync did not finish within {TIMEOUT_S} s")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.unlink(missing_ok=True)


def _rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _quartiles(run: _Run) -> list[float]:
    """The process's RSS when a quarter, half, three quarters and all of its titles were done."""
    if not run.rss_mb or not run.titles:
        return []
    marks = [run.titles * share for share in (0.25, 0.5, 0.75, 1.0)]
    return [
        round(next((rss for done, rss in run.rss_mb if done >= mark), run.rss_mb[-1][1]), 1)
        for mark in marks
    ]


def _env() -> dict[str, str]:
    """What the sync process needs to reach this database and the loopback TMDb."""
    db = connection.settings_dict
    auth = quote(str(db["USER"]), safe="")
    if db.get("PASSWORD"):
        auth += ":" + quote(str(db["PASSWORD"]), safe="")
    host = quote(str(db["HOST"]), safe="") + (f":{db['PORT']}" if db.get("PORT") else "")
    return {
        **os.environ,
        "DATABASE_URL": f"postgres://{auth}@{host}/{db['NAME']}",
        "SECRET_KEY": settings.SECRET_KEY,
        "TMDB_API_KEY": KEY,
        "TMDB_REQUESTS_PER_SECOND": str(settings.TMDB_REQUESTS_PER_SECOND),
        "LOG_LEVEL": "WARNING",
    }
