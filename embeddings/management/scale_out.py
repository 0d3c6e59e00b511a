"""`bench_pipeline --workers N --latency-ms L`: how a job's throughput grows with workers.

Real `manage.py qcluster` processes share one job against a loopback OpenAI-compatible provider
that answers each request after L ms, as a remote API does; the same job with one worker is the
baseline. Each run fills an empty table, as a model's first regeneration does (rows load
without the HNSW index, which is built once at the end). Throughput is read over the steady middle of each job (from 10 % to 90 % of its items),
so the workers' start-up is not counted against either side.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.core.management.base import CommandError
from django.db import connection
from django_q.models import OrmQ

from embeddings import jobs
from embeddings.management.loopback import LoopbackEmbeddings
from embeddings.models import EmbeddingJob
from embeddings.registry import resolve
from embeddings.worker_locks import workers_on

MODEL_KEY = "openai:text-embedding-3-small@768"
TIMEOUT_S = 900


def scale_out(
    workers: int, latency_ms: float, batch_size: int, say: Callable[[str], None]
) -> dict[str, Any]:
    server = LoopbackEmbeddings(latency_ms).start()
    rates: dict[int, float] = {}
    try:
        for count in sorted({1, max(1, workers)}):
            say(f"{count} qcluster worker(s), provider answering in {latency_ms:g} ms…")
            rates[count] = _rate_with(count, server, batch_size)
    finally:
        server.stop()
    most = max(rates)
    return {
        "workers": most,
        "latency_ms": latency_ms,
        "batch_size": batch_size,
        "items_per_s_one_worker": round(rates[1], 1),
        "items_per_s": round(rates[most], 1),
        "speedup_vs_one_worker": round(rates[most] / rates[1], 2),
        "provider_requests": server.requests,
    }


def _rate_with(count: int, server: LoopbackEmbeddings, batch_size: int) -> float:
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
    return _steady_rate(samples)


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
) -> list[tuple[float, int]]:
    """(time, items done) every 50 ms until the job completes."""
    samples: list[tuple[float, int]] = []
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        job = EmbeddingJob.objects.get(pk=job_id)
        samples.append((time.monotonic(), job.done))
        if job.status == EmbeddingJob.Status.COMPLETED and not workers_on(job_id):
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


def _steady_rate(samples: list[tuple[float, int]]) -> float:
    """Items a second between 10 % and 90 % of the job (its whole run when that is too short)."""
    total = samples[-1][1]
    start = next((s for s in samples if s[1] >= 0.1 * total), samples[0])
    end = next((s for s in samples if s[1] >= 0.9 * total), samples[-1])
    if end[0] - start[0] < 0.5 or end[1] <= start[1]:
        start = next(s for s in samples if s[1] > 0)
        end = next(s for s in samples if s[1] >= total)
    return (end[1] - start[1]) / max(end[0] - start[0], 1e-6)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
