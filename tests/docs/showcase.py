"""The product as a new admin meets it: the demo catalog, the local model's vectors for all of
it, and a second model being built by a job that is still running (its provider is a loopback
fake that answers slowly, as a remote API does).

Shared by the page-width test and the README screenshots, so both look at the same state.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.core.management import call_command
from django.db import connection

from catalog.models import CatalogItem
from embeddings import jobs, quality, tasks
from embeddings.models import (
    Embedding384,
    EmbeddingJob,
    EmbeddingSettings,
    HealthCheck,
    QualityRun,
)
from embeddings.providers import get_provider
from embeddings.providers.tokenizers import load_tokenizer, truncate_with
from embeddings.text import item_text, source_hash
from reclio_admin.management.commands.run import DEMO_CATALOG
from tests.fakes._server import fake_vector
from tests.fakes.openai_server import FakeOpenAI

LOCAL = "local:all-MiniLM-L6-v2"
BUILDING = "openai:text-embedding-3-small"
# The same MiniLM behind an OpenAI-compatible server (as text-embeddings-inference runs it),
# started to read only the first SERVED_TOKENS tokens of each text: real vectors that disagree.
SERVED = "openai:all-MiniLM-L6-v2@384"
SERVED_TOKENS = 64
# Real vectors of the demo catalog, made once per test session: (kind, tmdb_id) -> (hash, vector).
_LOCAL_VECTORS: dict[tuple[str, int], tuple[str, Any]] = {}


@dataclass
class Showcase:
    item: CatalogItem  # a film with well-known neighbours, for the similar page
    running: EmbeddingJob | None = None


def load_demo_catalog() -> None:
    call_command("import_catalog", str(DEMO_CATALOG), progress=False, stdout=_Quiet())


def embed_with_local_model() -> None:
    """The whole demo catalog through real jobs with the local model (about 10 s), the first
    time; later calls store the same vectors again without the model."""
    if _LOCAL_VECTORS:
        items = {(i.kind, i.tmdb_id): i.pk for i in CatalogItem.objects.all()}
        Embedding384.objects.bulk_create(
            Embedding384(item_id=items[key], model_key=LOCAL, source_hash=hash_, embedding=vector)
            for key, (hash_, vector) in _LOCAL_VECTORS.items()
        )
        return
    embed_with(LOCAL)
    rows = Embedding384.objects.for_model(LOCAL).select_related("item")
    _LOCAL_VECTORS.update(
        ((row.item.kind, row.item.tmdb_id), (row.source_hash, row.embedding)) for row in rows
    )


def embed_with_stand_ins() -> None:
    """Unit vectors seeded by each item's text, where what matters is that vectors exist."""
    Embedding384.objects.bulk_create(
        Embedding384(item=item, model_key=LOCAL, source_hash=source_hash(text),
                     embedding=fake_vector(text, 384))
        for item in CatalogItem.objects.all() if (text := item_text(item))
    )  # fmt: skip


def measure_quality(*model_keys: str) -> None:
    """Run the measurements the jobs queued, as a worker would, and measure these models if they
    have none yet: the pages then show real quality figures instead of "measuring…"."""
    for run_id in QualityRun.objects.filter(status=QualityRun.Status.QUEUED).values_list(
        "id", flat=True
    ):
        quality.run_measurement(run_id)
    for key in model_keys:
        if not QualityRun.objects.filter(model_key=key, status=QualityRun.Status.DONE).exists():
            quality.measure(key)


def prepare(*, real_vectors: bool = True) -> Showcase:
    """The demo catalog with every item embedded for the active local model: by the model
    itself, or by stand-ins when only their presence matters."""
    load_demo_catalog()
    if real_vectors:
        embed_with_local_model()
    else:
        embed_with_stand_ins()
    config = EmbeddingSettings.load()
    config.active_model_key = LOCAL
    config.save()
    HealthCheck.objects.create(model_key=LOCAL, ok=True, latency_ms=14.0)
    measure_quality(LOCAL)
    return Showcase(item=CatalogItem.objects.get(kind="movie", title="The Empire Strikes Back"))


class ServedMiniLM(FakeOpenAI):
    """A loopback OpenAI-compatible server that embeds with the local MiniLM, truncating each
    input to SERVED_TOKENS tokens first."""

    def __init__(self) -> None:
        super().__init__()
        self.models["all-MiniLM-L6-v2"] = 384

    def vectors(self, texts: list[str], dimensions: int) -> list[list[float]]:
        if dimensions != 384:
            return super().vectors(texts, dimensions)
        tokenizer = load_tokenizer("all-MiniLM-L6-v2")
        cut = [truncate_with(tokenizer, text, SERVED_TOKENS) for text in texts]
        return get_provider(LOCAL).embed(cut)


def embed_with(model_key: str) -> None:
    """Every item of the catalog through real jobs with this model."""
    for kind in ("movie", "series"):
        job = jobs.create_job(kind, model_key, "all")
        assert tasks.run_job(job.pk) == EmbeddingJob.Status.COMPLETED, job.last_error


@contextmanager
def running_job(batch_size: int = 8, until: float = 0.3) -> Iterator[EmbeddingJob]:
    """A job building BUILDING for the movies, run in a thread of this process against the
    loopback OpenAI the caller set up (answering slowly); yields once `until` of it is done, and
    cancels it on the way out."""
    job = jobs.create_job("movie", BUILDING, "all", batch_size=batch_size)
    config = EmbeddingSettings.load()
    config.building_model_key = BUILDING
    config.save()

    def work() -> None:
        try:
            tasks.run_job(job.pk)
        finally:
            connection.close()

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            job.refresh_from_db()
            if job.total and job.percent >= 100 * until and job.items_per_second:
                break
            assert job.is_active, f"the job ended early: {job.status} {job.last_error}"
            time.sleep(0.1)
        else:
            raise AssertionError(f"the job did not reach {until:.0%} in time")
        yield job
    finally:
        if EmbeddingJob.objects.filter(pk=job.pk, status__in=EmbeddingJob.ACTIVE_STATUSES):
            jobs.cancel_job(job.pk)
        thread.join(timeout=60)


class _Quiet:
    def write(self, *args: Any, **kwargs: Any) -> None:
        pass

    def flush(self) -> None:
        pass
