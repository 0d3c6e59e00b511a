"""`python manage.py bench_pipeline [--catalog CSV] [--json]`: items per second of the whole
pipeline (select, text, hash, embed, upsert), measured in a throwaway database.

The phases, in order, the jobs all through `embeddings.tasks.run_job`:
1. the lexical rows of the whole catalog (`lexical_rows.refresh()`), timed on their own with the
   memory they add, so the jobs after them find those rows current;
2. the free provider (vectors computed before the clock starts) over the whole catalog, so the
   number is the pipeline's own cost. Its table is empty, so, as in production, the job loads
   without the HNSW index and builds it once after its last batch. The job's own timestamps
   split its time: creation to `finished_at` (the last batch stored) is the pipeline; what
   `run_job` spends after `finished_at` is the index build plus a lexical check that finds
   nothing to do (phase 1 did it);
3. a `stale` rerun over the whole catalog with nothing changed;
4. the free provider over the local-model slice (copies of the first items, as series) into the
   same table, which now holds every film's row and keeps its index: PostgreSQL grows the index
   row by row, as when a table serves another model meanwhile;
5. the local model over that slice, beside the model's raw `SentenceTransformer.encode` on the
   same texts in the same run (their ratio is what the pipeline costs on top of the model).

Each job's items/s counts from the job's creation to its `finished_at`.

With `--latency-ms`, scale-out instead: real qcluster workers against a loopback provider.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError
from django.db import connection, connections

from catalog.importer import CatalogFileError, import_catalog
from catalog.models import CatalogItem
from embeddings import registry, tasks
from embeddings.models import EmbeddingJob, has_hnsw_index
from embeddings.neighbours import lexical_rows
from embeddings.providers import get_provider
from embeddings.providers.base import Provider
from embeddings.registry import DEFAULT_MODEL_KEY, ModelSpec, ResolvedModel
from embeddings.text import item_text
from embeddings.workbench.bench import write_synthetic_catalog
from embeddings.workbench.loopback import seeded_vectors
from embeddings.workbench.scale_out import scale_out
from reclio_admin.commands import DatabaseCommand

SCRATCH_DB = "reclio_bench"
FREE_SPEC = ModelSpec("bench", "precomputed", 384, 0, Decimal(0), "Benchmark only: costs nothing.")


class FreeProvider(Provider):
    """Random unit vectors seeded by each batch's texts: next to no cost and nothing held, so the
    numbers are the pipeline's own; never offered to users (not in the registry)."""

    def __init__(self, salt: str = "") -> None:
        super().__init__(ResolvedModel(FREE_SPEC, FREE_SPEC.dimensions))
        # Another salt, other vectors for the same texts: copies of items get vectors of their
        # own, not duplicates, which pgvector's HNSW index would store at next to no cost.
        self.salt = salt

    def _embed_batch(self, texts: list[str], *, query: bool) -> list[list[float]]:
        seeds = [self.salt + text for text in texts] if self.salt else texts
        vectors: list[list[float]] = seeded_vectors(seeds, FREE_SPEC.dimensions).tolist()
        return vectors


class Command(DatabaseCommand):
    help = (
        "Measure the embedding pipeline's throughput in a scratch database: the lexical rows, "
        "the free provider up to its last batch and the HNSW index build after it (with a "
        "lexical check that finds nothing left to do), a no-change stale rerun, the free "
        "provider into a table that keeps its index, and the local model."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--catalog", help="A TMDb movies CSV (e.g. ../shared/data/tmdb_movies_10k.csv)."
        )
        parser.add_argument(
            "--items", type=int, default=10_000, help="Synthetic items without --catalog."
        )
        parser.add_argument(
            "--local-items", type=int, default=1000, help="Items for the local-model part."
        )
        parser.add_argument(
            "--batch-size", type=int, default=settings.EMBEDDING_BATCH_SIZE, help="Items per batch."
        )
        parser.add_argument(
            "--repeat", type=int, default=2, help="Local-model runs; the best counts."
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=1,
            help="Workers sharing the free-provider job (threads); with --latency-ms, qcluster "
            "processes, measured against one.",
        )
        parser.add_argument(
            "--latency-ms",
            type=float,
            help="Measure scale-out instead: real qcluster workers against a loopback "
            "OpenAI-compatible provider that answers each request after this many ms.",
        )
        parser.add_argument(
            "--quota-rpm",
            type=int,
            help="With --latency-ms: the loopback provider answers 429 past this many requests "
            "a minute and announces it in OpenAI's rate-limit headers.",
        )
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")

    def handle(self, *args: Any, **options: Any) -> None:
        say = (lambda text: None) if options["json"] else self.stdout.write
        with scratch_database(), _free_model_known():
            say(f"Scratch database {SCRATCH_DB}: loading the catalog…")
            movies = self._load(options["catalog"], options["items"])
            if options["latency_ms"] is not None:
                scaled = scale_out(
                    options["workers"],
                    options["latency_ms"],
                    options["batch_size"],
                    say,
                    options["quota_rpm"],
                )
                self.stdout.write(json.dumps({"items": movies, **scaled}))
                return
            series = _copy_as_series(options["local_items"])
            result: dict[str, float] = {"items": movies, "local_items": series}
            result.update(self._lexical(say))
            result.update(self._free(options["batch_size"], options["workers"], say))
            result.update(self._live_index(options["batch_size"], options["workers"], say))
            result.update(self._local(options["batch_size"], options["repeat"], say))
        if options["json"]:
            self.stdout.write(json.dumps(result))
            return
        self.stdout.write(
            f"lexical rows:   {result['lexical_refresh_s']:.1f} s over every item, "
            f"{result['lexical_rss_growth_mb']:.0f} MB of memory added\n"
            f"free provider:  {result['free_items_per_s']:.0f} items/s over {movies} items "
            f"({result['workers']:.0f} worker(s)) up to the last batch; then the HNSW index "
            f"built in {result['free_index_build_s']:.1f} s "
            f"({result['free_items_per_s_with_index_build']:.0f} items/s with it), "
            f"{result['worker_rss_growth_mb']:.0f} MB of memory added\n"
            f"live index:     {result['free_items_per_s_with_live_index']:.0f} items/s over "
            f"{result['live_index_items']:.0f} items into the table that keeps its index\n"
            f"local model:    {result['local_items_per_s']:.1f} items/s through the pipeline, "
            f"{result['raw_encode_per_s']:.1f} texts/s raw encode "
            f"(ratio {result['local_ratio']:.3f}) over {series} items\n"
            f"stale rerun:    {result['stale_rerun_s']:.2f} s over {movies} items, nothing changed"
        )

    def _load(self, catalog: str | None, count: int) -> int:
        if catalog:
            try:
                import_catalog(catalog, kind="movie")
            except CatalogFileError as exc:
                raise CommandError(str(exc)) from None
        else:
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / "catalog.jsonl"
                write_synthetic_catalog(path, count)
                import_catalog(path, kind="movie")
        return CatalogItem.objects.filter(kind="movie").count()

    def _lexical(self, say: Any) -> dict[str, float]:
        """Every item's lexical rows, before the jobs (which would refresh them at their end)."""
        say("Lexical rows of the whole catalog…")
        before = _reset_peak_rss()
        started = time.perf_counter()
        lexical_rows.refresh()
        seconds = time.perf_counter() - started
        return {
            "lexical_refresh_s": seconds,
            "lexical_rss_growth_mb": round((_peak_rss() - before) / 2**20, 1),
        }

    def _free(self, batch_size: int, workers: int, say: Any) -> dict[str, float]:
        provider = FreeProvider()
        say(f"Free provider: whole pipeline over the catalog, {workers} worker(s)…")
        # An empty table: the job loads without the HNSW index and builds it after its last
        # batch, once `finished_at` is set; the lexical check after that finds nothing to do.
        before = _reset_peak_rss()
        job, seconds = _timed_job("movie", provider, "all", batch_size, workers)
        rss_growth = _peak_rss() - before
        pipeline_seconds = _until_last_batch(job)
        after_seconds = max(seconds - pipeline_seconds, 0.0)
        if not has_hnsw_index(FreeProvider().model.table):
            raise CommandError("the job left its table without the HNSW index")
        say("Stale rerun with nothing changed…")
        rerun, stale_seconds = _timed_job("movie", provider, "stale", batch_size)
        if rerun.done:
            raise CommandError(f"the stale rerun embedded {rerun.done} items; expected none")
        return {
            "free_items_per_s": job.done / pipeline_seconds,
            "free_after_last_batch_s": after_seconds,
            "free_index_build_s": after_seconds,
            "free_items_per_s_with_index_build": job.done / seconds,
            "stale_rerun_s": stale_seconds,
            "workers": workers,
            "worker_rss_growth_mb": round(rss_growth / 2**20, 1),
        }

    def _live_index(self, batch_size: int, workers: int, say: Any) -> dict[str, float]:
        """The free provider over the series copies, into the table that now holds every film's
        row: the index stays and PostgreSQL grows it row by row."""
        say("Free provider over the series into the table that keeps its HNSW index…")
        job, _ = _timed_job("series", FreeProvider(salt="series"), "all", batch_size, workers)
        return {
            "free_items_per_s_with_live_index": job.done / _until_last_batch(job),
            "live_index_items": job.done,
        }

    def _local(self, batch_size: int, repeat: int, say: Any) -> dict[str, float]:
        provider = get_provider(DEFAULT_MODEL_KEY)
        texts = [
            item_text(item) for item in CatalogItem.objects.filter(kind="series").order_by("id")
        ]
        model = provider.st_model  # type: ignore[attr-defined]
        model.encode(
            texts[:batch_size], batch_size=batch_size
        )  # load and warm up outside the clock
        raw, pipeline = 0.0, 0.0
        for run in range(1, repeat + 1):
            say(f"Local model, run {run}/{repeat}: raw encode, then the pipeline…")
            started = time.perf_counter()
            model.encode(
                texts, batch_size=batch_size, convert_to_numpy=True, normalize_embeddings=True
            )
            raw = max(raw, len(texts) / (time.perf_counter() - started))
            job, _ = _timed_job("series", provider, "all", batch_size)
            pipeline = max(pipeline, job.done / _until_last_batch(job))
        return {
            "local_items_per_s": pipeline,
            "raw_encode_per_s": raw,
            "local_ratio": pipeline / raw,
        }


def _timed_job(
    kind: str, provider: Provider, mode: str, batch_size: int, workers: int = 1
) -> tuple[EmbeddingJob, float]:
    """Create a job and run it to the end, with `workers` threads sharing it as separate
    workers would (each has its own database connection)."""
    started = time.perf_counter()
    job = EmbeddingJob.objects.create(
        kind=kind, model_key=provider.key, mode=mode, batch_size=batch_size
    )
    if workers > 1:
        threads = [
            threading.Thread(target=_worker, args=(job.pk, provider)) for _ in range(workers)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    else:
        tasks.run_job(job.pk, provider=provider)
    seconds = time.perf_counter() - started
    job.refresh_from_db()
    if job.status != EmbeddingJob.Status.COMPLETED or job.failed:
        raise CommandError(
            f"the benchmark job ended {job.status} with {job.failed} failures: {job.last_error}"
        )
    return job, seconds


def _until_last_batch(job: EmbeddingJob) -> float:
    """Seconds from the job's creation to its last batch stored (`finished_at`): the pipeline,
    without what `run_job` does after it (index build, lexical check, quality)."""
    assert job.finished_at is not None  # a completed job has one
    return (job.finished_at - job.created_at).total_seconds()


def _worker(job_id: int, provider: Provider) -> None:
    try:
        tasks.run_job(job_id, provider=provider)
    finally:
        connections.close_all()


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def _reset_peak_rss() -> int:
    """This process's size now, with the kernel's peak reset to it (Linux; the peak then
    tracks what the job adds)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")
    return _status_kb("VmRSS")


def _peak_rss() -> int:
    return _status_kb("VmHWM")


def _copy_as_series(count: int) -> int:
    """The local model's slice: the first items again, as series (a kind of their own)."""
    copies = []
    for item in CatalogItem.objects.filter(kind="movie").order_by("id")[:count]:
        item.pk, item.kind = None, "series"
        copies.append(item)
    CatalogItem.objects.bulk_create(copies)
    return len(copies)


@contextmanager
def _free_model_known() -> Iterator[None]:
    """The free provider's model in the registry for the benchmark's time (this process only):
    the jobs then resolve it as they do a real model's, and rebuild its table's HNSW index at
    their end (an unknown key would leave the index dropped after the bulk load)."""
    registry.MODELS.append(FREE_SPEC)
    try:
        yield
    finally:
        registry.MODELS.remove(FREE_SPEC)


@contextmanager
def scratch_database() -> Iterator[None]:
    """A freshly migrated database beside the real one, dropped afterwards: the benchmark never
    touches the catalog or the embeddings people use."""
    original = connection.settings_dict["NAME"]
    connection.settings_dict.setdefault("TEST", {})["NAME"] = SCRATCH_DB
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        yield
    finally:
        connection.creation.destroy_test_db(original, verbosity=0)
