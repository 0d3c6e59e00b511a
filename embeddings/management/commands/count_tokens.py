from __future__ import annotations

import time
from typing import Any

from embeddings.switching.tokens import counting_providers, refresh_token_counts
from reclio_admin.commands import DatabaseCommand


class Command(DatabaseCommand):
    help = "Count the catalog's tokens for every tokenizer the model table uses; only items whose text changed are counted again."

    def handle(self, *args: Any, **options: Any) -> None:
        names = ", ".join(counting_providers()) or "none"
        started = time.perf_counter()
        written = refresh_token_counts()
        elapsed = time.perf_counter() - started
        self.stdout.write(f"Counted {written} item texts ({names}) in {elapsed:.1f} s.")
