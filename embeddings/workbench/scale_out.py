"""`bench_pipeline --workers N --latency-ms L`: how a job's throughput grows with workers.

Real `manage.py qcluster` processes share one job against a loopback OpenAI-compatible provider
that answers each request after L ms, as a remote API does; the same job with one worker is the
baseline. Each run fills an empty table, as a model's first regeneration does (rows load
without the HNSW index, which is built once at the end).

The job is started as the jobs page starts it, with one task, and spreads itself to the free
workers one queue poll apart (`embeddings.jobs.queue.spread_job`). Throughput is read while every worker is on the
job, from 10 % to 90 % of its items; the whole job's rate (first item to last, the spreading
included) and how long the spreading took are reported beside it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.core.management.base import CommandError
from django.db import connection
from django_q.models import OrmQ

from embeddings import jobs
from embeddings.models import EmbeddingJob
from embeddings.registry import resolve
from embeddings.workbench.loopback import LoopbackEmbeddings
from embeddings.worker_locks import workers_on

MODEL_KEY = "openai:text-embedding-3-small@768"
TIMEOUT_S = 900


@dataclass
class _Run:
    samples: list[tuple[float, int, int]]  # (time, items done, workers on the job)

    @property
    def workers(self) -> int:
        return max(workers for _, _, workers in self.samples)

    @property
    def steady_rate(self) -> float:
        """Items a second while every worker is on the job, from 10 % to 90 % of its items (its
        whole run when that is too short)."""
        total = self.samples[-1][1]
        start = next(
            (s for s in self.samples if s[1] >= 0.1 * total and s[2] == self.workers), None
        )
        end = next(s for s in self.samples if s[1] >= 0.9 * total)
        if start is None or end[0] - start[0] < 0.5 or end[1] <= start[1]:
            return self.whole_rate
        return (end[1] - start[1]) / (end[0] - start[0])

    @property
    def whole_rate(self) -> float:
        """Items a second from the first item stored to the last."""
        total = self.samples[-1][1]
        start = next(s for s in self.samples if s[1] > 0)
        end = next(s for s in self.samples if s[1] >= total)
        return (end[1] - start[1]) / max(end[0] - start[0], 1e-6)

    @property
    def ramp_s(self) -> float:
        """Seconds from the first item stored until every worker was on the job."""
        first = next(s for s in self.samples if s[1] > 0)
        full = next(s for s in self.samples if s[2] == self.workers)
        return max(full[0] - first[0], 0.0)


def scale_out(
    workers: int,
    latency_ms: float,
    batch_size: int,
    say: Callable[[str], None],
    quota_rpm: int | None = None,
) -> dict[str, Any]:
    """Both runs' figures; with `quota_rpm`, the provider answers 429 past that many requests a
    minute (announcing it in OpenAI's headers, which the workers learn it from), and the most
    workers' run also reports its requests, the 429s among them and its accepted requests a
    minute."""
    server = LoopbackEmbeddings(latency_ms, quota_rpm).start()
    runs: dict[int, _Run] = {}
    quota: dict[str, Any] = {}
    sent = 0
    try:
        for count in sorted({1, max(1, workers)}):
            say(f"{count} qcluster worker(s), provider answering in {latency_ms:g} ms…")
            server.reset_counts()
            runs[count] = _run_with(count, server, batch_size)
            sent += server.requests
            if quota_rpm:
                quota = {
                    "quota_rpm": quota_rpm,
                    "requests": server.requests,
                    "rate_limited": server.rate_limited,
                    "requests_per_minute": round(server.requests_per_minute(), 1),
                }
    finally:
        server.stop()
    one, most = runs[1], runs[max(runs)]
    return quota | {
        "workers": max(runs),
        "latency_ms": latency_ms,
        "batch_size": batch_size,
        "items_per_s_one_worker": round(one.steady_rate, 1),
        "items_per_s": round(most.steady_rate, 1),
        "speedup_vs_one_worker": round(most.steady_rate / one.steady_rate, 2),
        "speedup_whole_job": round(most.whole_rate / one.whole_rate, 2),
        "workers_on_the_job": most.workers,
        "spread_s": round(most.ramp_s, 2),
        "provider_requests": sent,
    }


def _run_with(count: int, server: LoopbackEmbeddings, batch_size: int) -> _Run:
    # Each run starts on an empty table, as a model's first regeneration does: rows load without
    # the HNSW index (built once at the end), so the provider's latency is what workers share.
    # TRUNCATE, not DELETE: the last run's dead rows would have autovacuum repair their HNSW
    # graph, a core's worth of work, while this run is being measured.
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {resolve(MODEL_KEY).table._meta.db_table}")
    # Started as the jobs page starts it, one task: the job spreads itself to the free workers.
    job = jobs.start_job("movie", MODEL_KEY, "all", batch_size=batch_size)
    logs = [Path(f"/tmp/reclio-bench-worker-{os.getpid()}-{i}.log") for i in range(count)]
    procs = [_spawn(_worker_env(server, count), log) for log in logs]
    try:
        samples = _watch(job.pk, procs, logs)
    finally:
        for proc in procs:
            _stop(proc)
        for log in logs:
            log.unlink(missing_ok=True)
        OrmQ.objects.all().delete()  # a task still waiting for the ended job: not the next run's
    return _Run(samples)


def _spawn(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"], cwd=settings.BASE_DIR, env=env,
        stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip


def _worker_env(server: LoopbackEmbeddings, workers: int) -> dict[str, str]:
    """What a worker process needs to reach the scratch database and the loopback provider."""
    db = connection.settings_dict
    auth = quote(str(db["USER"]), safe="")
    if db.get("PASSWORD"):
        auth += ":" + quote(str(db["PASSWORD"]), safe="")
    host = quote(str(db["HOST"]), safe="") + (f":{db['PORT']}" if db.get("PORT") else "")
    return {
        **os.environ,
        "DATABASE_URL": f"postgres://{auth}@{host}/{db['NAME']}",
        "SECRET_KEY": settings.SECRET_KEY,  # tasks are signed with it
        "OPENAI_BASE_URL": server.base_url,
        "OPENAI_API_KEY": "loopback-benchmark",
        "Q_WORKERS": "1",
        "JOB_WORKERS": str(workers),
        "LOG_LEVEL": "WARNING",
    }


def _watch(
    job_id: int, procs: list[subprocess.Popen[bytes]], logs: list[Path]
) -> list[tuple[float, int, int]]:
    """(time, items done, workers on the job) every 50 ms until the job completes."""
    samples: list[tuple[float, int, int]] = []
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        job = EmbeddingJob.objects.get(pk=job_id)
        on_it = workers_on(job_id)
        samples.append((time.monotonic(), job.done, on_it))
        if job.status == EmbeddingJob.Status.COMPLETED and not on_it:
            # Completed, and its last worker has built the HNSW index and left: nothing of
            # this run goes on into the next.
            return samples
        if job.status in (EmbeddingJob.Status.FAILED, EmbeddingJob.Status.CANCELLED):
            raise CommandError(f"the benchmark job ended {job.status}: {job.last_error}")
        if all(proc.poll() is not None for proc in procs):
            tail = logs[0].read_text(errors="replace")[-2000:]
            raise CommandError(f"every worker exited before the job ended:\n{tail}")
        time.sleep(0.05)
    raise CommandError(f"the benchmark job did not finish within {TIMEOUT_S} s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
