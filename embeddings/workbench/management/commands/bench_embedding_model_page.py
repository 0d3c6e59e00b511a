from __future__ import annotations

import statistics
import time
from typing import Any

from django.contrib.auth.models import User
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from catalog.models import CatalogItem
from embeddings.models import TokenCount
from reclio_admin.commands import DatabaseCommand


class Command(DatabaseCommand):
    help = "Time full renders of the embedding model page against the current database."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--runs", type=int, default=20)

    def handle(self, *args: Any, runs: int, **options: Any) -> None:
        url = reverse("embeddings:embedding_model")
        # The throwaway admin and its session vanish with the rollback.
        with transaction.atomic():
            user = User.objects.create_superuser("bench-embedding-page", "", None)
            client = Client(HTTP_HOST="localhost")
            client.force_login(user)
            client.get(url)  # warm: imports, template compilation, the readiness cache
            timings = []
            for _ in range(runs):
                started = time.perf_counter()
                response = client.get(url)
                timings.append((time.perf_counter() - started) * 1000)
                if response.status_code != 200:
                    raise SystemExit(f"the page answered {response.status_code}")
            with CaptureQueriesContext(connection) as queries:
                client.get(url)
            transaction.set_rollback(True)
        timings.sort()
        self.stdout.write(
            f"catalog items: {CatalogItem.objects.count()}, "
            f"cached token counts: {TokenCount.objects.count()}\n"
            f"{runs} renders of {url}: median {statistics.median(timings):.1f} ms, "
            f"p95 {timings[int(0.95 * (runs - 1))]:.1f} ms, min {timings[0]:.1f} ms, "
            f"{len(queries)} SQL queries, {len(response.content) // 1024} KiB"
        )
