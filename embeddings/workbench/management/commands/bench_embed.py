"""`python manage.py bench_embed --csv data/tmdb_movies_10k.csv [--count 1000] [--model KEY]`:
embed catalog-like texts through a provider and print its throughput. The model is loaded (or
the connection opened) by a warm-up call first, so the number is the steady rate."""

from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser

from catalog.models import CatalogItem
from embeddings.models import EmbeddingSettings
from embeddings.providers import EmbeddingError, get_provider
from embeddings.text import item_text
from reclio_admin.commands import DatabaseCommand


def _items(path: Path, count: int) -> list[CatalogItem]:
    """Unsaved items from TMDB CSV rows: the benchmark never touches the catalog."""
    items = []
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            year = row.get("release_year", "")
            items.append(
                CatalogItem(
                    kind="movie",
                    title=row.get("original_title", ""),
                    year=int(year) if year.isdigit() else None,
                    tagline=row.get("tagline", ""),
                    overview=row.get("overview", ""),
                    genres=[g for g in row.get("genres", "").split("|") if g],
                    keywords=[k for k in row.get("keywords", "").split("|") if k],
                    cast=[c for c in row.get("cast", "").split("|") if c],
                    director=row.get("director", ""),
                )
            )
            if len(items) >= count:
                break
    return items


class Command(DatabaseCommand):
    help = "Measure a provider's embedding throughput on texts built from a TMDB CSV."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--csv", default="../shared/data/tmdb_movies_10k.csv")
        parser.add_argument("--count", type=int, default=1000)
        parser.add_argument("--model", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["csv"])
        if not path.is_file():
            raise CommandError(f"no CSV at {path}")
        texts = [t for t in map(item_text, _items(path, options["count"])) if t]
        try:
            provider = get_provider(options["model"] or EmbeddingSettings.load().active_key)
            provider.embed(texts[:8])  # warm-up: load the model, open the connection
            tokens = sum(provider.count_tokens(provider.truncate(t)) for t in texts)
            started = time.perf_counter()
            vectors = provider.embed(texts)
            elapsed = time.perf_counter() - started
        except EmbeddingError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"model        {provider.key}")
        self.stdout.write(
            f"texts        {len(vectors)} ({tokens / len(texts):.0f} tokens each on average)"
        )
        self.stdout.write(f"seconds      {elapsed:.2f}")
        self.stdout.write(f"texts/s      {len(vectors) / elapsed:.1f}")
