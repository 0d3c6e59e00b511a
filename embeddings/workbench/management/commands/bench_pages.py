"""`python manage.py bench_pages --items 1000000 [--json]`: how fast the pages people open are on
a big catalog, measured in a scratch database that is built once and reused.

Building it (the first run for a size, or with --rebuild):
1. a JSON Lines file of N synthetic items goes through `import_catalog` (timed: `import_seconds`);
2. every item gets a random vector of the active model by COPY, with the item's own text hash
   (then 1 % of the items are edited, so the stale counts have something to count), and the
   HNSW index is built once at the end; every item gets a token count for each tokenizer the
   settings page estimates with;
3. a few finished jobs, so the jobs page has rows; ANALYZE.

Then each page is requested `--requests` times, after warm-up, by the Django test client as a
superuser: in process, so the numbers are the server's time without the network. The scratch
database is `reclio_pages_<N>` on the same server; `--drop` removes it.
"""

from __future__ import annotations

import json
import random
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError, CommandParser
from django.db import connection
from django.db.models.functions import Mod
from django.test import Client
from django.urls import reverse

from catalog.importer import import_catalog
from catalog.models import CatalogItem
from embeddings.models import EmbeddingJob, EmbeddingSettings, TokenCount
from embeddings.registry import resolve, storage_type
from embeddings.switching.tokens import counting_providers
from embeddings.workbench.bench import (
    WORDS,
    copy_vector,
    loading_without_index,
    percentile,
    raw_connection,
    write_synthetic_catalog,
)
from reclio_admin.commands import DatabaseCommand

BENCH_USER = "bench-pages"
PAGES = (
    "catalog_list", "catalog_filtered", "title_search", "settings", "storage", "jobs", "similar",
)  # fmt: skip
META_TABLE = "bench_pages_build"


class Command(DatabaseCommand):
    help = "p95 of the catalog, settings, storage, jobs and similar pages on a big scratch catalog."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--items", type=int, default=100_000)
        parser.add_argument("--requests", type=int, default=30, help="timed requests per page")
        parser.add_argument(
            "--rebuild", action="store_true", help="build the scratch catalog again"
        )
        parser.add_argument(
            "--drop", action="store_true", help="drop the scratch database and stop"
        )
        parser.add_argument(
            "--pages",
            default=",".join(PAGES),
            help=f"comma-separated pages to time (default: all of {', '.join(PAGES)})",
        )
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args: Any, **options: Any) -> None:
        n = options["items"]
        if n < 100:
            raise CommandError("--items must be at least 100")
        pages = [name.strip() for name in options["pages"].split(",") if name.strip()]
        if unknown := sorted(set(pages) - set(PAGES)) or (not pages and ["(none)"]):
            raise CommandError(f"unknown page {', '.join(unknown)}; choose from {', '.join(PAGES)}")
        say = (lambda text: None) if options["json"] else self.stdout.write
        original = connection.settings_dict["NAME"]
        scratch = f"reclio_pages_{n}"
        try:
            if options["drop"]:
                _drop(scratch)
                say(f"Dropped {scratch}.")
                return
            fresh = _use_scratch(scratch, rebuild=options["rebuild"])
            if fresh:
                say(f"Building {scratch}: {n:,} items through import_catalog…")
                self._build(n, say)
            if not TokenCount.objects.exists():  # a catalog built before counts were added
                _count_tokens()
            result = {"items": CatalogItem.objects.count(), **_meta()}
            say(f"Timing pages on {result['items']:,} items…")
            result |= _time_pages(options["requests"], pages)
        finally:
            connection.close()
            connection.settings_dict["NAME"] = original
        if options["json"]:
            self.stdout.write(json.dumps(result))
            return
        for key, value in result.items():
            self.stdout.write(f"{key:>22}: {value}")

    def _build(self, n: int, say: Callable[[str], None]) -> None:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "catalog.jsonl"
            write_synthetic_catalog(path, n)
            started = time.perf_counter()
            report = import_catalog(path)
            import_seconds = time.perf_counter() - started
        if report.rejected or report.created != n:
            raise CommandError(f"the import created {report.created} of {n}: {report.summary()}")
        say(f"Imported in {import_seconds:.1f} s; vectors for every item…")
        started = time.perf_counter()
        model = resolve(EmbeddingSettings.load().active_key)
        _copy_vectors(model.key, model.table, model.dimensions)
        vectors_seconds = time.perf_counter() - started
        _count_tokens()
        edited = CatalogItem.objects.filter(id__in=_every(100)).update(tagline="Edited since.")
        _add_jobs(model.key)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {META_TABLE} (import_seconds float, vectors_seconds "
                "float, edited integer, built_at timestamptz DEFAULT now())"
            )
            cursor.execute(f"TRUNCATE {META_TABLE}")
            cursor.execute(
                f"INSERT INTO {META_TABLE} (import_seconds, vectors_seconds, edited) VALUES (%s, %s, %s)",
                [import_seconds, vectors_seconds, edited],
            )
        say(f"Vectors and index in {vectors_seconds:.1f} s.")


def _use_scratch(name: str, *, rebuild: bool) -> bool:
    """Point the default connection at the scratch database, creating and migrating it when it
    is missing (or --rebuild); returns whether it needs building."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        exists = cursor.fetchone() is not None
    if exists and rebuild:
        _drop(name)
        exists = False
    if exists:
        connection.close()
        connection.settings_dict["NAME"] = name
        with connection.cursor() as cursor:
            cursor.execute("SELECT to_regclass(%s)", [META_TABLE])
            if cursor.fetchone()[0] is not None:
                call_command("migrate", verbosity=0)  # a catalog built by older code
                return False
        # A build that stopped half-way: start again.
        connection.close()
        connection.settings_dict["NAME"] = _default_name()
        _drop(name)
    connection.settings_dict.setdefault("TEST", {})["NAME"] = name
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    return True


def _default_name() -> str:
    return str(settings.DATABASES["default"]["NAME"])


def _drop(name: str) -> None:
    connection.close()
    connection.settings_dict["NAME"] = _default_name()
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _meta() -> dict[str, Any]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT import_seconds, vectors_seconds, edited FROM {META_TABLE}")
        import_seconds, vectors_seconds, edited = cursor.fetchone()
    return {
        "import_seconds": round(import_seconds, 1),
        # None when the vectors and their index were finished outside this command.
        "vectors_seconds": None if vectors_seconds is None else round(vectors_seconds, 1),
        "edited_items": edited,
    }


def _every(step: int) -> Any:
    return CatalogItem.objects.alias(rest=Mod("id", step)).filter(rest=0).values("id")


def _copy_vectors(model_key: str, table: Any, dims: int) -> None:
    """A random unit vector per item, COPYed without the HNSW index, which is built once after."""
    name = table._meta.db_table
    kind = storage_type(dims)
    rng = np.random.default_rng(7)
    now = datetime.now(UTC)
    # The product's own setting: a graph that outgrows it is built on disk, many times slower.
    build = {"maintenance_work_mem": settings.HNSW_BUILD_MEMORY}
    with (
        raw_connection() as conn,
        raw_connection() as reader,
        loading_without_index(conn, table, build),
    ):
        # A second connection reads on the server, so a million rows never sit in memory.
        items = reader.cursor(name="items")
        items.execute(f"SELECT id, text_hash FROM {CatalogItem._meta.db_table} ORDER BY id")
        sql = (
            f"COPY {name} (item_id, model_key, embedding, source_hash, created_at) "
            "FROM STDIN WITH (FORMAT BINARY)"
        )
        with conn.cursor() as cursor, cursor.copy(sql) as copy:
            copy.set_types(["bigint", "varchar", kind, "varchar", "timestamptz"])
            while chunk := items.fetchmany(10_000):
                vectors = rng.standard_normal((len(chunk), dims), dtype=np.float32)
                vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
                for (item_id, digest), vector in zip(chunk, vectors, strict=True):
                    copy.write_row((item_id, model_key, copy_vector(vector, kind), digest, now))
        conn.commit()  # the foreign key checks are deferred to here; the index build waits for them


def _count_tokens() -> None:
    """A token count per item for every tokenizer the settings page estimates with, as
    `count_tokens` leaves them (sizes made up, 60 to 359 tokens), written in SQL."""
    with connection.cursor() as cursor:
        for tokenizer in counting_providers():
            cursor.execute(
                f"INSERT INTO {TokenCount._meta.db_table} (item_id, tokenizer, source_hash, tokens) "
                f"SELECT id, %s, text_hash, 60 + (id * 7919) %% 300 FROM {CatalogItem._meta.db_table}",
                [tokenizer],
            )


def _add_jobs(model_key: str) -> None:
    now = datetime.now(UTC)
    EmbeddingJob.objects.bulk_create(
        EmbeddingJob(
            kind=kind,
            model_key=model_key,
            mode="stale",
            status=EmbeddingJob.Status.COMPLETED,
            total=1000,
            done=1000,
            started_at=now,
            finished_at=now,
            items_per_second=500.0,
        )
        for kind in ("movie", "series", "movie", "series", "movie")
    )


def _time_pages(requests: int, names: list[str]) -> dict[str, float]:
    """p95 in milliseconds of each page, `requests` timed requests after three to warm up."""
    user, _ = User.objects.get_or_create(
        username=BENCH_USER, defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client(SERVER_NAME="localhost")
    client.force_login(user)
    rng = random.Random(11)
    last_id = CatalogItem.objects.order_by("-id").values_list("id", flat=True).first() or 0
    changelist = reverse("admin:catalog_catalogitem_changelist")
    pages: dict[str, Callable[[], tuple[str, dict[str, str]]]] = {
        "catalog_list": lambda: (
            changelist,
            rng.choice([{}, {"kind__exact": "movie"}, {"p": "3"}]),
        ),
        "catalog_filtered": lambda: (changelist, {"genre": rng.choice(WORDS), "decade": "1990"}),
        "title_search": lambda: (changelist, {"q": rng.choice(WORDS)[:4]}),
        "settings": lambda: (reverse("embeddings:embedding_model"), {}),
        "storage": lambda: (reverse("embeddings:storage"), {}),
        "jobs": lambda: (reverse("embeddings:jobs"), {}),
        "similar": lambda: (reverse("embeddings:similar", args=[rng.randint(1, last_id)]), {}),
    }
    result = {}
    for name in names:
        request = pages[name]
        timings = []
        for attempt in range(3 + requests):
            url, query = request()
            started = time.perf_counter()
            response = client.get(url, query)
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code != 200:
                raise CommandError(f"{url} answered {response.status_code}")
            if attempt >= 3:
                timings.append(elapsed)
        result[f"{name}_p95_ms"] = round(percentile(timings, 0.95), 1)
        result[f"{name}_p50_ms"] = round(percentile(timings, 0.50), 1)
    User.objects.filter(username=BENCH_USER).delete()
    return result
