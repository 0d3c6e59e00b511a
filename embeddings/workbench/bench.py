"""What the benchmark commands share: synthetic catalog items (plausible lengths, a small
vocabulary, stable for a seed), a raw connection for COPY, percentiles."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import psycopg
from django.db import connection
from pgvector.psycopg import register_vector

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


def drop_index_for_load(conn: psycopg.Connection[Any], table: str) -> str:
    """Drop the table's HNSW index before a bulk load (one build after is many times faster
    than growing the graph row by row); returns the statement that builds it again."""
    name = f"{table}_hnsw_cosine"
    row = conn.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", [name]).fetchone()
    if row is None:
        raise RuntimeError(f"the index {name} is missing: run migrate")
    conn.execute(f"DROP INDEX {name}")
    conn.commit()
    return str(row[0])
