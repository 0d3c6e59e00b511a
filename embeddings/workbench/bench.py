"""What the benchmark commands share: synthetic catalog items (plausible lengths, a small
vocabulary, stable for a seed), a raw connection for COPY, a bulk load without the HNSW index,
percentiles."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from django.db import connection
from pgvector import HalfVector
from pgvector.django import HnswIndex
from pgvector.psycopg import register_vector

from embeddings.models import EmbeddingBase

WORDS = [
    "storm", "harbour", "detective", "orphan", "kingdom", "robot", "desert", "heist", "comedy",
    "wedding", "war", "letter", "train", "island", "mother", "secret", "river", "music", "winter",
    "revenge", "circus", "doctor", "spy", "garden", "ghost", "night",
]  # fmt: skip


def synthetic_item(rng: random.Random, i: int) -> dict[str, Any]:
    """The fields of the i-th synthetic film (TMDB id i + 1)."""
    return {
        "kind": "movie",
        "tmdb_id": i + 1,
        "title": f"{rng.choice(WORDS).title()} {i}",
        "year": 1960 + i % 60,
        "overview": " ".join(rng.choices(WORDS, k=40)),
        "genres": rng.sample(WORDS, 2),
        "keywords": rng.sample(WORDS, 4),
        "cast": [f"Actor {rng.randrange(5000)}" for _ in range(5)],
        "director": f"Director {rng.randrange(900)}",
    }


def write_synthetic_catalog(path: Path, n: int) -> None:
    """A JSON Lines file of n synthetic films, for `import_catalog`."""
    rng = random.Random(7)
    with path.open("w", encoding="utf-8") as handle:
        for i in range(n):
            handle.write(json.dumps(synthetic_item(rng, i)) + "\n")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def raw_connection() -> psycopg.Connection[Any]:
    """A connection of our own for COPY, so registering pgvector's binary types leaves Django's
    connection as it is. Django's connects first: that starts the embedded server."""
    connection.ensure_connection()
    db = connection.settings_dict
    conn = psycopg.connect(
        dbname=db["NAME"], user=db["USER"], password=db["PASSWORD"] or None,
        host=db["HOST"] or None, port=db["PORT"] or None,
    )  # fmt: skip
    register_vector(conn)
    return conn


@contextmanager
def loading_without_index(
    conn: psycopg.Connection[Any], table: type[EmbeddingBase], build_settings: Mapping[str, str]
) -> Iterator[None]:
    """Drop the table's HNSW index for a bulk load on `conn` (one build after is many times
    faster than growing the graph row by row) and build it again however the load ends, with
    `build_settings` (`maintenance_work_mem`, …) set for the build.

    A failed COPY leaves `conn`'s transaction aborted, where the build would fail too: the
    load is rolled back first, and the build runs in a transaction of its own. A load that
    succeeds commits its rows itself, or with the build."""
    index = next(index for index in table._meta.indexes if isinstance(index, HnswIndex))
    with connection.schema_editor(collect_sql=True) as editor:
        create = str(index.create_sql(table, editor))
    # The watchdog may build it meanwhile: it mends any table left without its index.
    create = create.replace("CREATE INDEX", "CREATE INDEX IF NOT EXISTS", 1)
    conn.execute(f'DROP INDEX IF EXISTS "{index.name}"')
    conn.commit()
    try:
        yield
    except BaseException:
        conn.rollback()
        raise
    finally:
        for setting, value in build_settings.items():
            conn.execute(f"SET {setting} = '{value}'")
        conn.execute(create)
        conn.commit()


def copy_vector(vector: np.ndarray, kind: str) -> Any:
    """One vector as `COPY … WITH (FORMAT BINARY)` takes it for a column of `kind`: pgvector's
    halfvec dumper writes a `HalfVector`, not a numpy array."""
    return HalfVector(vector) if kind == "halfvec" else vector
