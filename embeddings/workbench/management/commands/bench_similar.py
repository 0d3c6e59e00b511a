"""How fast and how right the neighbour query and the similar page are on a large set.

    python manage.py bench_similar --items 100000 --dims 384 [--blend vector|lexical|hybrid]
                                   [--curated N] [--json] [--keep]

Builds N synthetic items with random unit vectors under the model key `bench:synthetic` (or
reuses a set of that size left by --keep), then measures p50 / p95 of the neighbour list the
page serves (the blend's query with the item's pins and hides read and applied) and of the whole
page render (Django test client, a logged-in superuser), and recall@10 of the vector query
against an exact scan. Synthetic rows are removed afterwards unless --keep.

Every timed item gets `--curated` pins (at ranks 1, 3, 5, …) and as many hides (default 2 of
each), of other synthetic items drawn at random: a pinned item the blend did not rank is read
from the catalog, and the blend is asked for as many more neighbours as there are pins and
hides, as on the page. Each page is checked to show its pins.

Each synthetic item has TMDb-like votes (a log-normal count, a median of about 50 and a long
tail into the tens of thousands, and a rating around 6.2), so the popularity prior, at its
default weight on the page and in the timed list, reorders candidates as it does on a catalog.

Each synthetic item's overview is 40 words drawn from a Zipf-distributed vocabulary, so the
lexical rows look like text: a few words everywhere, most words rare. With `--blend lexical` or
`hybrid` the lexical rows of the whole catalog are rebuilt first (timed as `lexical_build_s`),
and the query and page are timed under that blend.

Loading drops the table's HNSW index and rebuilds it after the COPY (one bulk build is much
faster than 100,000 inserts into the graph); other models' rows in that table are re-indexed too.
A load that fails is rolled back and the index is built all the same.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import numpy as np
import psycopg
from django.contrib.auth.models import User
from django.core.management.base import CommandParser
from django.db import connection
from django.test import Client
from django.urls import reverse

from catalog.models import CatalogItem
from embeddings.models import EMBEDDING_TABLES, Curation, EmbeddingBase, table_for
from embeddings.neighbours import lexical_rows
from embeddings.neighbours.blends import BLENDS, VECTOR
from embeddings.neighbours.curation import curated_neighbours
from embeddings.neighbours.filters import Filters
from embeddings.neighbours.prior import DEFAULT_PRIOR_WEIGHT
from embeddings.neighbours.stored import StoredVector
from embeddings.neighbours.vector import Neighbour, exact_neighbour_ids, vector_neighbours
from embeddings.registry import storage_type, stored_set
from embeddings.text import ItemFields, text_hash
from embeddings.workbench.bench import (
    copy_vector,
    loading_without_index,
    percentile,
    raw_connection,
)
from reclio_admin.commands import DatabaseCommand

MODEL_KEY = "bench:synthetic"
MARKER = "bench:synthetic"  # original_title of the synthetic items, so cleanup finds only them
FIRST_TMDB_ID = 2_000_000_000
BENCH_USER = "bench-similar"
LATENT_DIMS = 32
GENRES = ["Action", "Comedy", "Drama", "Horror", "Romance", "Thriller"]
VOCABULARY = 30_000
OVERVIEW_WORDS = 40
# Pins at ranks 1, 3, 5, …: all of them within the page's first 10.
MAX_CURATED = 5


def _overviews(rng: np.random.Generator, n: int) -> list[str]:
    """n texts of OVERVIEW_WORDS made-up words each, their ranks Zipf-distributed."""
    ranks = np.minimum(rng.zipf(1.3, size=(n, OVERVIEW_WORDS)), VOCABULARY)
    return [" ".join(f"w{rank}" for rank in row) for row in ranks]


def _vectors(
    rng: np.random.Generator, n: int, dims: int, distribution: str, basis: np.ndarray
) -> np.ndarray:
    """n random unit vectors.

    `uniform` spreads them evenly over the sphere, where every point is almost as far from its
    nearest neighbour as from any other: the worst case for any index. `latent` (the default)
    draws a random point in LATENT_DIMS dimensions, maps it into D with a fixed random basis and
    adds 20 % noise: text embeddings likewise vary along far fewer directions than they have.
    """
    if distribution == "uniform":
        vectors = rng.standard_normal((n, dims), dtype=np.float32)
    else:
        noise = rng.standard_normal((n, dims), dtype=np.float32) * (
            0.2 * np.sqrt(LATENT_DIMS / dims)
        )
        vectors = rng.standard_normal((n, LATENT_DIMS), dtype=np.float32) @ basis + noise
    unit: np.ndarray = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    return unit


class Command(DatabaseCommand):
    help = "Time the neighbour query and the similar page on a synthetic set; recall@10 vs exact."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--items", type=int, default=100_000)
        parser.add_argument("--dims", type=int, default=384, choices=sorted(EMBEDDING_TABLES))
        parser.add_argument("--queries", type=int, default=200, help="neighbour queries to time")
        parser.add_argument("--pages", type=int, default=100, help="page renders to time")
        parser.add_argument(
            "--recall-queries", type=int, default=50, help="queries checked against exact"
        )
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument(
            "--distribution", choices=["latent", "uniform"], default="latent",
            help="latent: few underlying directions, like text embeddings (default); uniform: the worst case",
        )  # fmt: skip
        parser.add_argument(
            "--blend", choices=BLENDS, default=VECTOR, help="the blend to time (default: vector)"
        )
        parser.add_argument(
            "--curated", type=int, default=2, choices=range(MAX_CURATED + 1), metavar="N",
            help=f"pins and hides of each timed item, 0 to {MAX_CURATED} (default: 2 of each)",
        )  # fmt: skip
        parser.add_argument("--json", action="store_true", help="print one JSON object")
        parser.add_argument(
            "--rebuild", action="store_true", help="build a new set even if one is there"
        )
        parser.add_argument(
            "--keep", action="store_true", help="keep the synthetic set for the next run"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        table = table_for(options["dims"])
        n, quiet = options["items"], options["json"]
        rng = np.random.default_rng(options["seed"])
        self.distribution, self.rebuild = options["distribution"], options["rebuild"]
        self.recall_queries = max(1, options["recall_queries"])
        self.blend, lexical_seconds = options["blend"], 0.0
        self.curated = options["curated"]
        try:
            load_seconds, index_seconds = self._ensure_set(table, n, rng, quiet)
            if self.blend != VECTOR:
                started = time.perf_counter()
                lexical_rows.rebuild()
                lexical_seconds = time.perf_counter() - started
            ids = list(table.objects.for_model(MODEL_KEY).values_list("item_id", flat=True))
            sample = [
                int(i)
                for i in rng.choice(ids, size=min(options["queries"], len(ids)), replace=False)
            ]
            self._curate(sample, ids, rng)
            query_ms, recall = self._time_queries(table, sample)
            page_ms = self._time_pages(sample[: options["pages"]])
        finally:
            if not options["keep"]:
                self._clean_up()
        result = {
            "items": n,
            "dims": options["dims"],
            "distribution": self.distribution,
            "blend": self.blend,
            "curated": self.curated,
            "prior_weight": DEFAULT_PRIOR_WEIGHT,
            "query_p50_ms": round(percentile(query_ms, 0.50), 2),
            "query_p95_ms": round(percentile(query_ms, 0.95), 2),
            "page_p50_ms": round(percentile(page_ms, 0.50), 2),
            "page_p95_ms": round(percentile(page_ms, 0.95), 2),
            "recall_at_10": round(recall, 4),
            "load_s": round(load_seconds, 1),
            "index_build_s": round(index_seconds, 1),
            "lexical_build_s": round(lexical_seconds, 1),
        }
        if quiet:
            self.stdout.write(json.dumps(result))
            return
        for key, value in result.items():
            self.stdout.write(f"{key:>14}: {value}")

    def _ensure_set(
        self, table: type[EmbeddingBase], n: int, rng: np.random.Generator, quiet: bool
    ) -> tuple[float, float]:
        """Reuse a synthetic set of this size, or build one: items, vectors, then the index."""
        same = table.objects.for_model(MODEL_KEY).filter(source_hash=self._marker()).count() == n
        if same and not self.rebuild:
            return 0.0, 0.0
        self._clean_up()
        started = time.perf_counter()
        with raw_connection() as conn:
            item_ids = self._copy_items(conn, n, rng)
            # The graph must fit in maintenance_work_mem, or the build slows down many times.
            build = {"maintenance_work_mem": "1GB", "max_parallel_maintenance_workers": "1"}
            with loading_without_index(conn, table, build):
                self._copy_vectors(conn, table, item_ids, rng)
                loaded = time.perf_counter()
                if not quiet:
                    self.stdout.write(
                        f"loaded {n:,} items and vectors in {loaded - started:.1f} s; building the index…"
                    )
            conn.execute(f"ANALYZE {table._meta.db_table}")
            conn.execute(f"ANALYZE {CatalogItem._meta.db_table}")
        return loaded - started, time.perf_counter() - loaded

    def _marker(self) -> str:
        return f"synthetic-{self.distribution}-{LATENT_DIMS}-voted"

    def _copy_items(
        self, conn: psycopg.Connection[Any], n: int, rng: np.random.Generator
    ) -> list[int]:
        now = datetime.now(UTC)
        columns = (
            'kind, tmdb_id, imdb_id, title, original_title, year, tagline, overview, genres, keywords, "cast", '
            "director, collection, created_at, updated_at, text_hash, vote_count, vote_average"
        )
        years = rng.integers(1950, 2025, size=n)
        vote_counts = np.minimum(rng.lognormal(4.0, 2.0, size=n), 40_000).astype(int)
        vote_averages = np.clip(rng.normal(6.2, 1.0, size=n), 1.0, 10.0).round(1)
        genres = rng.integers(0, len(GENRES), size=n)
        overviews = _overviews(rng, n)
        with (
            conn.cursor() as cursor,
            cursor.copy(f"COPY {CatalogItem._meta.db_table} ({columns}) FROM STDIN") as copy,
        ):
            for i in range(n):
                fields = ItemFields(
                    "movie",
                    f"Synthetic {i:06d}",
                    int(years[i]),
                    "",
                    overviews[i],
                    [GENRES[genres[i]]],
                    [],
                    [],
                    "",
                )
                copy.write_row(
                    ("movie", FIRST_TMDB_ID + i, "", fields.title, MARKER, fields.year, "", fields.overview,
                     fields.genres, [], [], "", "", now, now, text_hash(fields),
                     int(vote_counts[i]), float(vote_averages[i]))
                )  # fmt: skip
        rows = conn.execute(
            f"SELECT id FROM {CatalogItem._meta.db_table} WHERE original_title = %s ORDER BY id",
            [MARKER],
        ).fetchall()
        return [row[0] for row in rows]

    def _copy_vectors(
        self,
        conn: psycopg.Connection[Any],
        table: type[EmbeddingBase],
        item_ids: list[int],
        rng: np.random.Generator,
    ) -> None:
        dims, now = table.dimensions, datetime.now(UTC)
        basis = rng.standard_normal((LATENT_DIMS, dims), dtype=np.float32)
        basis /= np.linalg.norm(basis, axis=1, keepdims=True)
        kind = storage_type(dims)
        sql = f"COPY {table._meta.db_table} (item_id, model_key, embedding, source_hash, created_at) FROM STDIN WITH (FORMAT BINARY)"
        with conn.cursor() as cursor, cursor.copy(sql) as copy:
            copy.set_types(["bigint", "varchar", kind, "varchar", "timestamptz"])
            for start in range(0, len(item_ids), 10_000):
                size = min(10_000, len(item_ids) - start)
                chunk = _vectors(rng, size, dims, self.distribution, basis)
                for item_id, vector in zip(
                    item_ids[start : start + len(chunk)], chunk, strict=True
                ):
                    copy.write_row(
                        (item_id, MODEL_KEY, copy_vector(vector, kind), self._marker(), now)
                    )
        conn.commit()

    def _curate(self, sample: list[int], ids: list[int], rng: np.random.Generator) -> None:
        """Pins and hides for each timed item, of other synthetic items drawn at random, as a
        curator's clicks store them (by TMDb id); an earlier run's go first. Remembers how many
        pins each page must show."""
        self._clear_curation()
        n, picks = self.curated, dict[int, list[int]]()
        for item_id in sample:
            drawn = dict.fromkeys(int(other) for other in rng.choice(ids, 4 * n))
            picks[item_id] = [other for other in drawn if other != item_id][: 2 * n]
        named = set(sample).union(*picks.values())
        tmdb = dict(CatalogItem.objects.filter(pk__in=named).values_list("pk", "tmdb_id"))
        rows: list[Curation] = []
        self.pins: dict[int, int] = {}
        for item_id, others in picks.items():
            pinned, hidden = others[:n], others[n:]
            self.pins[item_id] = len(pinned)
            for rank, other in enumerate(pinned, start=1):
                rows.append(
                    self._curation(tmdb[item_id], tmdb[other], Curation.Action.PIN, 2 * rank - 1)
                )
            for other in hidden:
                rows.append(self._curation(tmdb[item_id], tmdb[other], Curation.Action.HIDE, None))
        Curation.objects.bulk_create(rows)

    @staticmethod
    def _curation(query: int, neighbour: int, action: str, rank: int | None) -> Curation:
        return Curation(
            kind="movie", query_tmdb_id=query, neighbour_tmdb_id=neighbour, action=action, rank=rank
        )

    def _clear_curation(self) -> None:
        Curation.objects.filter(kind="movie", query_tmdb_id__gte=FIRST_TMDB_ID).delete()

    def _time_queries(
        self, table: type[EmbeddingBase], sample: list[int]
    ) -> tuple[list[float], float]:
        """Time the neighbour list the page serves under the blend (same kind, the item left
        out, its vector read in the database, its pins and hides read and applied); recall@10
        of the vector query against an exact scan."""
        vectors = {
            i: StoredVector(MODEL_KEY, table, i, "", datetime.now(UTC)).embedding for i in sample
        }
        items = CatalogItem.objects.in_bulk(sample)
        model = stored_set(MODEL_KEY, table.dimensions)

        def query(item_id: int) -> list[Neighbour]:
            return vector_neighbours(
                table, MODEL_KEY, vectors[item_id], k=10,
                filters=Filters(kind="movie", exclude_item_id=item_id),
            )  # fmt: skip

        def timed(item_id: int) -> Any:
            return curated_neighbours(
                items[item_id], model, blend=self.blend, k=10, filters=Filters(kind="movie")
            )

        for item_id in sample[:20]:  # warm the indexes into memory
            timed(item_id)
        timings, hits = [], 0
        for item_id in sample:
            started = time.perf_counter()
            timed(item_id)
            timings.append((time.perf_counter() - started) * 1000)
        # An exact scan reads every vector (seconds at 1536 dimensions): recall on a subset.
        checked = sample[: self.recall_queries]
        for item_id in checked:
            exact = exact_neighbour_ids(
                table, MODEL_KEY, vectors[item_id], k=10, filters=Filters(exclude_item_id=item_id)
            )
            hits += len({n.item.pk for n in query(item_id)} & set(exact))
        return timings, hits / (10 * len(checked))

    def _time_pages(self, sample: list[int]) -> list[float]:
        user, _ = User.objects.get_or_create(
            username=BENCH_USER, defaults={"is_staff": True, "is_superuser": True}
        )
        client = Client(SERVER_NAME="localhost")
        client.force_login(user)
        timings = []
        for i, item_id in enumerate([*sample[:5], *sample]):
            url = reverse("embeddings:similar", args=[item_id])
            started = time.perf_counter()
            response = client.get(url, {"model": MODEL_KEY, "blend": self.blend})
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code != 200 or b"neighbour-link" not in response.content:
                raise RuntimeError(f"{url} answered {response.status_code} without neighbours")
            shown = response.content.count(b'<span class="reclio-badge pinned">')
            if shown != self.pins[item_id]:
                raise RuntimeError(f"{url} shows {shown} pins of {self.pins[item_id]}")
            if i >= 5:  # the first renders warm the template cache
                timings.append(elapsed)
        return timings

    def _clean_up(self) -> None:
        """Delete the synthetic items and every row that points at them, in SQL: the ORM would
        collect 100,000 objects first."""
        items = CatalogItem._meta.db_table
        synthetic = f"SELECT id FROM {items} WHERE original_title = %s AND tmdb_id >= %s"
        with connection.cursor() as cursor:
            for model in EMBEDDING_TABLES.values():
                cursor.execute(
                    f"DELETE FROM {model._meta.db_table} WHERE model_key = %s", [MODEL_KEY]
                )
                cursor.execute(
                    f"DELETE FROM {model._meta.db_table} WHERE item_id IN ({synthetic})",
                    [MARKER, FIRST_TMDB_ID],
                )
            for dependent in (
                "embeddings_jobfailure", "embeddings_tokencount", "lexical_vectors",
                "lexical_postings",
            ):  # fmt: skip
                cursor.execute(
                    f"DELETE FROM {dependent} WHERE item_id IN ({synthetic})",
                    [MARKER, FIRST_TMDB_ID],
                )
            cursor.execute(
                f"DELETE FROM {items} WHERE original_title = %s AND tmdb_id >= %s",
                [MARKER, FIRST_TMDB_ID],
            )
            # The storage page reads row counts from the planner's statistics: without this
            # they would show the synthetic rows until autovacuum next analysed the tables.
            for table in [items, *(model._meta.db_table for model in EMBEDDING_TABLES.values())]:
                cursor.execute(f"ANALYZE {table}")
        self._clear_curation()
        User.objects.filter(username=BENCH_USER).delete()
