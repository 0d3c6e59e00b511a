"""/metrics: who may scrape it, and that its numbers are the database's."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from catalog.models import CatalogItem
from embeddings.models import (
    Embedding384,
    EmbeddingJob,
    EmbeddingSettings,
    HealthCheck,
    JobFailure,
    QualityRun,
    QualityScore,
)
from tests.conftest import make_item
from tests.similar.helpers import at_angle, embed

pytestmark = pytest.mark.django_db

ACTIVE = "local:all-MiniLM-L6-v2"
BUILDING = "openai:text-embedding-3-small"
TOKEN = "s3cret-scrape-token-0123456789"


@pytest.fixture
def token(settings: pytest.FixtureRequest) -> str:
    settings.METRICS_TOKEN = TOKEN  # type: ignore[attr-defined]
    return TOKEN


@pytest.fixture
def catalog() -> list[CatalogItem]:
    """Four movies and a series; three movies and the series have vectors, one of them stale."""
    items = [make_item(title=f"Film {i}") for i in range(4)] + [
        make_item(title="Show", kind="series")
    ]
    for i, item in enumerate([*items[:3], items[4]]):
        embed(item, Embedding384, ACTIVE, at_angle(384, i * 10))
    Embedding384.objects.filter(item=items[0]).update(source_hash="an older text")
    config = EmbeddingSettings.load()
    config.active_model_key = ACTIVE
    config.building_model_key = BUILDING
    config.save()
    return items


def running_job(**fields: object) -> EmbeddingJob:
    now = timezone.now()
    defaults: dict[str, object] = {
        "kind": "movie", "model_key": BUILDING, "status": EmbeddingJob.Status.RUNNING,
        "total": 400, "done": 120, "skipped": 30, "failed": 2, "items_per_second": 12.5,
        "eta_seconds": 19.8, "started_at": now - timedelta(seconds=60), "heartbeat_at": now,
    }  # fmt: skip
    return EmbeddingJob.objects.create(**(defaults | fields))


def scrape(client: Client, **headers: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def test_without_a_token_or_a_login_the_scraper_is_told_to_authenticate(token: str) -> None:
    response = Client().get("/metrics")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert b"reclio_" not in response.content


def test_a_wrong_token_is_refused_and_the_right_one_is_not_echoed(token: str) -> None:
    for header in ("Bearer not-the-token", f"Basic {TOKEN}", "Bearer", TOKEN):
        response = Client().get("/metrics", headers={"Authorization": header})
        assert response.status_code == 401, header
        assert TOKEN.encode() not in response.content


def test_with_no_token_configured_no_bearer_token_is_accepted(settings: object) -> None:
    settings.METRICS_TOKEN = ""  # type: ignore[attr-defined]
    for header in ("Bearer ", "Bearer  ", f"Bearer {TOKEN}"):
        assert Client().get("/metrics", headers={"Authorization": header}).status_code == 401


@pytest.mark.parametrize(
    ("role", "status"),
    [("admin", 200), ("staff", 403), ("curator", 403), ("outsider", 403), ("anonymous", 401)],
)
def test_only_embedding_admins_may_read_the_metrics_when_logged_in(
    role_clients: dict[str, Client], role: str, status: int
) -> None:
    assert role_clients[role].get("/metrics").status_code == status


def test_a_state_change_is_not_accepted_on_the_metrics_address(token: str) -> None:
    response = Client().post("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 405


def test_a_running_jobs_progress_and_the_models_coverage_match_the_database(
    token: str, catalog: list[CatalogItem]
) -> None:
    job = running_job()
    samples = scrape(Client(), Authorization=f"Bearer {TOKEN}")

    job.refresh_from_db()
    labels = {"job": str(job.pk), "kind": "movie", "model": BUILDING}
    assert value(samples, "reclio_job_items_done", **labels) == job.done == 120
    assert value(samples, "reclio_job_items_total", **labels) == job.total == 400
    assert value(samples, "reclio_job_items_skipped", **labels) == 30
    assert value(samples, "reclio_job_items_failed", **labels) == 2
    assert value(samples, "reclio_job_progress_ratio", **labels) == pytest.approx(152 / 400)
    assert value(samples, "reclio_job_items_per_second", **labels) == 12.5
    assert value(samples, "reclio_job_eta_seconds", **labels) == pytest.approx(19.8)
    assert job.heartbeat_at is not None
    assert value(samples, "reclio_job_heartbeat_timestamp_seconds", **labels) == pytest.approx(
        job.heartbeat_at.timestamp()
    )

    stored = Embedding384.objects.for_model(ACTIVE).count()
    items = CatalogItem.objects.count()
    assert (stored, items) == (4, 5)
    assert value(
        samples, "reclio_embedding_coverage_ratio", model=ACTIVE, role="active"
    ) == pytest.approx(stored / items)
    assert (
        value(samples, "reclio_embedding_vectors", model=ACTIVE, role="active", kind="movie") == 3
    )
    assert (
        value(samples, "reclio_embedding_vectors", model=ACTIVE, role="active", kind="series") == 1
    )
    assert value(samples, "reclio_embedding_stale_vectors", model=ACTIVE, role="active") == 1
    # The model being built has no vector yet, and says so rather than going missing.
    assert value(samples, "reclio_embedding_coverage_ratio", model=BUILDING, role="building") == 0
    assert value(samples, "reclio_catalog_items", kind="movie") == 4
    assert value(samples, "reclio_catalog_items", kind="series") == 1
    assert value(samples, "reclio_jobs", status="running") == 1


def test_a_finished_job_leaves_the_per_job_series_and_counts_as_its_status(
    token: str, catalog: list[CatalogItem]
) -> None:
    job = running_job(status=EmbeddingJob.Status.FAILED, finished_at=timezone.now())
    JobFailure.objects.create(job=job, item=catalog[3], reason="the provider refused the text")
    samples = scrape(Client(), Authorization=f"Bearer {TOKEN}")

    assert not [key for key in samples if key[0].startswith("reclio_job_")]
    assert value(samples, "reclio_jobs", status="failed") == 1
    assert value(samples, "reclio_failures", kind="job_failed") == 1
    assert value(samples, "reclio_failures", kind="item") == 1
    assert value(samples, "reclio_failures", kind="job_interrupted") == 0


def test_the_last_health_check_of_each_model_gives_its_state_and_latency(token: str) -> None:
    old = HealthCheck.objects.create(model_key=ACTIVE, ok=False, error="connection refused")
    HealthCheck.objects.filter(pk=old.pk).update(checked_at=timezone.now() - timedelta(hours=1))
    latest = HealthCheck.objects.create(model_key=ACTIVE, ok=True, latency_ms=120.0)
    HealthCheck.objects.create(model_key=BUILDING, ok=False, error="401: the key was refused")

    samples = scrape(Client(), Authorization=f"Bearer {TOKEN}")

    assert value(samples, "reclio_provider_up", model=ACTIVE) == 1
    assert value(samples, "reclio_provider_latency_seconds", model=ACTIVE) == pytest.approx(0.12)
    assert value(
        samples, "reclio_provider_last_check_timestamp_seconds", model=ACTIVE
    ) == pytest.approx(latest.checked_at.timestamp())
    assert value(samples, "reclio_provider_up", model=BUILDING) == 0
    assert ("reclio_provider_latency_seconds", (("model", BUILDING),)) not in samples
    assert value(samples, "reclio_failures", kind="health_check") == 2


def test_the_last_finished_quality_measurement_of_each_model_is_reported(token: str) -> None:
    def run(status: str, age_hours: int, recall: float) -> QualityRun:
        finished = timezone.now() - timedelta(hours=age_hours)
        measured = QualityRun.objects.create(
            model_key=ACTIVE, status=status, index_recall_at_10=0.99, finished_at=finished
        )
        QualityScore.objects.create(
            run=measured, blend="hybrid", queries=120, recall_at_10=recall, hit_at_10=1.0
        )
        return measured

    run(QualityRun.Status.DONE, 48, 0.90)
    latest = run(QualityRun.Status.DONE, 2, 0.958)
    run(QualityRun.Status.FAILED, 1, 0.10)

    samples = scrape(Client(), Authorization=f"Bearer {TOKEN}")

    assert value(samples, "reclio_quality_recall_at_10", model=ACTIVE, blend="hybrid") == 0.958
    assert value(samples, "reclio_quality_index_recall_at_10", model=ACTIVE) == 0.99
    assert latest.finished_at is not None
    assert value(
        samples, "reclio_quality_measured_timestamp_seconds", model=ACTIVE
    ) == pytest.approx(latest.finished_at.timestamp())


def test_the_scrape_reads_the_same_few_queries_whatever_the_number_of_jobs(
    token: str, catalog: list[CatalogItem]
) -> None:
    running_job()
    client = Client()
    scrape(client, Authorization=f"Bearer {TOKEN}")  # warm: the first request opens the session
    with CaptureQueriesContext(connection) as one_job:
        scrape(client, Authorization=f"Bearer {TOKEN}")
    for n in range(6):
        running_job(model_key=f"local:model-{n}", kind="series")
    with CaptureQueriesContext(connection) as seven_jobs:
        samples = scrape(client, Authorization=f"Bearer {TOKEN}")

    assert len(seven_jobs) == len(one_job) <= 14
    assert value(samples, "reclio_jobs", status="running") == 7
