"""`python manage.py bench_job_watchers [--watchers 10] [--seconds 10] [--json]`: what people
watching the jobs page cost, over loopback HTTP, in a scratch database.

1. The scratch database gets 30 jobs (3 running, each held by a stand-in worker session; the
   others finished or failed, with 40 failed items each) and the queries one page view reads
   are counted in process.
2. gunicorn serves it on a loopback port (2 workers of 4 threads, as `make run` starts it).
3. Each watcher, a logged-in browser stand-in, loads the page, then polls every running row
   each second, as htmx does, for --seconds; every request's time is kept.
4. It prints the page's queries, the server's own time per request (in process, one at a time),
   p50/p95/max of the page and of the polled rows under the watchers, the requests served per
   second, and the machine's load average (other work on it slows every number).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from typing import Any
from urllib.parse import quote

import requests
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management.base import CommandError, CommandParser
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from catalog.models import CatalogItem
from embeddings.models import EmbeddingJob, JobFailure
from embeddings.workbench.bench import percentile, raw_connection
from embeddings.workbench.management.commands.bench_pipeline import scratch_database
from embeddings.worker_locks import JOB_LOCKS
from reclio_admin.commands import DatabaseCommand

Status = EmbeddingJob.Status
JOBS, RUNNING, FAILURES = 30, 3, 40


class Command(DatabaseCommand):
    help = "p95 of the jobs page and its polled rows under N watchers, over loopback HTTP."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--watchers", type=int, default=10)
        parser.add_argument("--seconds", type=float, default=10.0)
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args: Any, **options: Any) -> None:
        say = (lambda text: None) if options["json"] else self.stdout.write
        with scratch_database():
            user, running = _fill()
            cookie = _session(user)
            queries = _page_queries(user)
            workers = raw_connection()  # stand-ins for the running jobs' worker processes
            for job_id in running:
                workers.execute("SELECT pg_advisory_lock_shared(%s, %s)", [JOB_LOCKS, job_id])
            alone = _in_process(user, running)
            say(f"Jobs page with {JOBS} jobs reads {queries} queries; serving it over loopback…")
            server, base = _serve()
            try:
                result = _watch(base, cookie, running, options["watchers"], options["seconds"])
            finally:
                server.terminate()
                server.wait(timeout=15)
                workers.close()
                connection.close()
        result = {"jobs": JOBS, "page_queries": queries} | alone | result
        result["watchers"] = options["watchers"]
        result["load_average"] = round(os.getloadavg()[0], 1)  # a busy machine slows every number
        if options["json"]:
            self.stdout.write(json.dumps(result))
            return
        for key, value in result.items():
            self.stdout.write(f"{key:>18}: {value}")


def _fill() -> tuple[User, list[int]]:
    user = User.objects.create_superuser("bench-watcher", "bench@example.com", "unused")
    items = CatalogItem.objects.bulk_create(
        CatalogItem(kind="movie", tmdb_id=i + 1, title=f"Film {i}", overview="A film.")
        for i in range(FAILURES)
    )
    running = []
    for n in range(JOBS):
        status = Status.RUNNING if n < RUNNING else [Status.FAILED, Status.COMPLETED][n % 2]
        job = EmbeddingJob.objects.create(
            kind="movie", model_key=f"bench:model-{n}", status=status, total=1000, done=500,
            failed=FAILURES, created_by=user,
        )  # fmt: skip
        JobFailure.objects.bulk_create(
            JobFailure(job=job, item=item, reason="refused by the provider") for item in items
        )
        if status == Status.RUNNING:
            running.append(job.pk)
    return user, running


def _client(user: User) -> Client:
    client = Client(SERVER_NAME="127.0.0.1")
    client.force_login(user)
    return client


def _session(user: User) -> str:
    return _client(user).cookies[settings.SESSION_COOKIE_NAME].value


def _page_queries(user: User) -> int:
    client = _client(user)
    client.get(reverse("embeddings:jobs"))
    with CaptureQueriesContext(connection) as captured:
        client.get(reverse("embeddings:jobs"))
    return len(captured)


def _in_process(user: User, running: list[int], requests: int = 30) -> dict[str, float]:
    """The server's own time per request, one at a time, without HTTP or other watchers."""
    client = _client(user)
    page, row = [], []
    for _ in range(requests):
        started = time.perf_counter()
        client.get(reverse("embeddings:jobs"))
        page.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        client.get(reverse("embeddings:job_row", args=[running[0]]), headers={"HX-Request": "1"})
        row.append((time.perf_counter() - started) * 1000)
    return {
        "in_process_page_p95_ms": round(percentile(page, 0.95), 1),
        "in_process_row_p95_ms": round(percentile(row, 0.95), 1),
    }


def _serve() -> tuple[subprocess.Popen[bytes], str]:
    db = connection.settings_dict
    password = f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else ""
    port_part = f":{db['PORT']}" if db["PORT"] else ""
    url = f"postgres://{db['USER']}{password}@{quote(str(db['HOST']), safe='')}{port_part}/{db['NAME']}"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = os.environ | {
        "DATABASE_URL": url, "SECRET_KEY": settings.SECRET_KEY, "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1", "LOG_LEVEL": "WARNING",
    }  # fmt: skip
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "reclio_admin.wsgi", "--bind", f"127.0.0.1:{port}",
         "--workers", "2", "--threads", "4", "--log-level", "warning"],
        cwd=settings.BASE_DIR, env=env,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base}/admin/login/", timeout=2).status_code == 200:
                return server, base
        except requests.RequestException:
            time.sleep(0.2)
    server.terminate()
    raise CommandError("gunicorn did not answer within 60 s")


def _watch(
    base: str, cookie: str, running: list[int], watchers: int, seconds: float
) -> dict[str, Any]:
    page_times: list[float] = []
    row_times: list[float] = []
    lock = threading.Lock()
    failures: list[str] = []

    def timed(session: requests.Session, url: str, **headers: str) -> float:
        started = time.perf_counter()
        response = session.get(url, headers=headers, timeout=30)
        took = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            failures.append(f"{url}: HTTP {response.status_code}")
        return took

    def watcher() -> None:
        session = requests.Session()
        session.cookies.set(settings.SESSION_COOKIE_NAME, cookie)
        page = timed(session, f"{base}/admin/jobs/")
        rows = []
        ends = time.monotonic() + seconds
        while (tick := time.monotonic()) < ends:
            for job_id in running:
                rows.append(
                    timed(session, f"{base}/admin/jobs/{job_id}/", **{"HX-Request": "true"})
                )
            time.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))
        page_again = timed(session, f"{base}/admin/jobs/")
        with lock:
            page_times.extend([page, page_again])
            row_times.extend(rows)

    threads = [threading.Thread(target=watcher) for _ in range(watchers)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise CommandError(f"{len(failures)} requests failed, e.g. {failures[0]}")
    every = page_times + row_times
    return {
        "requests": len(every),
        "requests_per_s": round(len(every) / elapsed, 1),
        "page_p50_ms": round(percentile(page_times, 0.5), 1),
        "page_p95_ms": round(percentile(page_times, 0.95), 1),
        "row_p50_ms": round(percentile(row_times, 0.5), 1),
        "row_p95_ms": round(percentile(row_times, 0.95), 1),
        "all_p95_ms": round(percentile(every, 0.95), 1),
        "max_ms": round(max(every), 1),
    }
