"""`/metrics`: the state of the embeddings in Prometheus' text format, read from the database at
scrape time, so every web process answers the same and nothing is kept between scrapes.

A scraper sends `Authorization: Bearer <METRICS_TOKEN>`; a logged-in admin may look too. The
scrape runs a fixed number of queries whatever the catalog or job count.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Iterable, Iterator

from django.conf import settings
from django.db.models import Count, F
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from catalog.models import CatalogItem
from embeddings.models import (
    EmbeddingJob,
    EmbeddingSettings,
    HealthCheck,
    JobFailure,
    QualityRun,
    ServiceCallTally,
)
from embeddings.permissions import CHANGE_SETTINGS
from embeddings.registry import UnknownModel, resolve
from embeddings.storage import ModelUsage, model_usage
from reclio_admin.outbound.pacing import LATENCY_BUCKETS

JOB_LABELS = ["job", "kind", "model"]


def _roles(config: EmbeddingSettings) -> dict[str, str]:
    """Model key → its role: active, building or previous (any other stored set is "stored")."""
    roles = {config.previous_model_key: "previous", config.building_key: "building"}
    roles[config.active_key] = "active"
    roles.pop("", None)
    return roles


def _embeds(model_key: str) -> bool:
    """A key the registry knows and that embeds (the "none" provider stores nothing)."""
    try:
        return resolve(model_key).provider != "none"
    except UnknownModel:
        return False


class EmbeddingCollector(Collector):
    """Reads the database on every `collect()`; each method below is one or two queries."""

    def collect(self) -> Iterator[Metric]:
        started = time.perf_counter()
        yield from self._models()
        by_status = dict(
            EmbeddingJob.objects.order_by().values_list("status").annotate(n=Count("id"))
        )
        yield from self._jobs(by_status)
        yield from self._health()
        yield from self._quality()
        yield from self._failures(by_status)
        yield from self._requests()
        yield GaugeMetricFamily(
            "reclio_metrics_scrape_duration_seconds",
            "Seconds this scrape spent reading the database.",
            value=time.perf_counter() - started,
        )

    def _models(self) -> Iterable[Metric]:
        totals = dict(CatalogItem.objects.values_list("kind").annotate(n=Count("id")).order_by())
        items = GaugeMetricFamily("reclio_catalog_items", "Catalog items.", labels=["kind"])
        for kind in CatalogItem.Kind.values:
            items.add_metric([kind], totals.get(kind, 0))
        yield items

        roles = _roles(EmbeddingSettings.load())
        usages = {usage.model_key: usage for usage in model_usage()}
        vectors = GaugeMetricFamily(
            "reclio_embedding_vectors",
            "Vectors stored per model and item kind.",
            labels=["model", "role", "kind"],
        )
        coverage = GaugeMetricFamily(
            "reclio_embedding_coverage_ratio",
            "Share of the catalog a model's stored vectors cover (1 = every item).",
            labels=["model", "role"],
        )
        stale = GaugeMetricFamily(
            "reclio_embedding_stale_vectors",
            "Stored vectors whose item's text changed since they were made.",
            labels=["model", "role"],
        )
        total = sum(totals.values())
        # The active and building models are reported even before their first vector.
        keys = [*usages, *(key for key in roles if key not in usages and _embeds(key))]
        for key in keys:
            usage: ModelUsage | None = usages.get(key)
            role = roles.get(key, "stored")
            movies = usage.movies.covered if usage else 0
            series = usage.series.covered if usage else 0
            vectors.add_metric([key, role, "movie"], movies)
            vectors.add_metric([key, role, "series"], series)
            coverage.add_metric([key, role], (movies + series) / total if total else 0.0)
            stale.add_metric([key, role], usage.stale if usage else 0)
        yield from (vectors, coverage, stale)

    def _jobs(self, by_status: dict[str, int]) -> Iterable[Metric]:
        jobs = GaugeMetricFamily("reclio_jobs", "Embedding jobs by status.", labels=["status"])
        for status in EmbeddingJob.Status.values:
            jobs.add_metric([status], by_status.get(status, 0))
        yield jobs

        families = {
            name: GaugeMetricFamily(f"reclio_job_{name}", doc, labels=JOB_LABELS)
            for name, doc in (
                ("items_total", "Items a running job has to go through."),
                ("items_done", "Items a running job has embedded."),
                ("items_skipped", "Items a running job found up to date or without text."),
                ("items_failed", "Items a running job could not embed."),
                ("progress_ratio", "Share of a running job's items gone through (done, skipped or failed)."),
                ("items_per_second", "A running job's embedding rate."),
                ("eta_seconds", "Seconds a running job expects to need for the rest."),
                ("heartbeat_timestamp_seconds", "Last sign of life of a running job (heartbeat, else start, else creation), as a Unix time."),
            )
        }  # fmt: skip
        active = EmbeddingJob.objects.active().order_by("id")
        for job in active:
            labels = [str(job.pk), job.kind, job.model_key]
            families["items_total"].add_metric(labels, job.total)
            families["items_done"].add_metric(labels, job.done)
            families["items_skipped"].add_metric(labels, job.skipped)
            families["items_failed"].add_metric(labels, job.failed)
            families["progress_ratio"].add_metric(
                labels, job.processed / job.total if job.total else 0.0
            )
            families["items_per_second"].add_metric(labels, job.items_per_second)
            if job.eta_seconds is not None:
                families["eta_seconds"].add_metric(labels, job.eta_seconds)
            alive = job.heartbeat_at or job.started_at or job.created_at
            families["heartbeat_timestamp_seconds"].add_metric(labels, alive.timestamp())
        yield from families.values()

    def _health(self) -> Iterable[Metric]:
        up = GaugeMetricFamily(
            "reclio_provider_up",
            "1 when the last health check of the model's provider embedded a text, else 0.",
            labels=["model"],
        )
        latency = GaugeMetricFamily(
            "reclio_provider_latency_seconds",
            "How long the last successful health check took.",
            labels=["model"],
        )
        checked = GaugeMetricFamily(
            "reclio_provider_last_check_timestamp_seconds",
            "When the model's provider was last checked, as a Unix time.",
            labels=["model"],
        )
        latest = HealthCheck.objects.order_by("model_key", "-checked_at").distinct("model_key")
        for check in latest:
            up.add_metric([check.model_key], 1 if check.ok else 0)
            if check.ok and check.latency_ms is not None:
                latency.add_metric([check.model_key], check.latency_ms / 1000)
            checked.add_metric([check.model_key], check.checked_at.timestamp())
        yield from (up, latency, checked)

    def _quality(self) -> Iterable[Metric]:
        recall = GaugeMetricFamily(
            "reclio_quality_recall_at_10",
            "Franchise siblings found among each film's top 10, by blend, at the model's last "
            "quality measurement.",
            labels=["model", "blend"],
        )
        index = GaugeMetricFamily(
            "reclio_quality_index_recall_at_10",
            "Share of the exact top 10 the HNSW index returns, at the last measurement.",
            labels=["model"],
        )
        measured = GaugeMetricFamily(
            "reclio_quality_measured_timestamp_seconds",
            "When the model's quality was last measured, as a Unix time.",
            labels=["model"],
        )
        runs = (
            QualityRun.objects.filter(status=QualityRun.Status.DONE)
            .order_by("model_key", F("finished_at").desc(nulls_last=True), "-id")
            .distinct("model_key")
            .prefetch_related("scores")
        )
        for run in runs:
            for score in run.scores.all():
                recall.add_metric([run.model_key, score.blend], score.recall_at_10)
            if run.index_recall_at_10 is not None:
                index.add_metric([run.model_key], run.index_recall_at_10)
            if run.finished_at is not None:
                measured.add_metric([run.model_key], run.finished_at.timestamp())
        yield from (recall, index, measured)

    def _failures(self, by_status: dict[str, int]) -> Iterable[Metric]:
        counts = {
            "item": JobFailure.objects.count(),
            "job_failed": by_status.get(EmbeddingJob.Status.FAILED, 0),
            "job_interrupted": by_status.get(EmbeddingJob.Status.INTERRUPTED, 0),
            "health_check": HealthCheck.objects.filter(ok=False).count(),
        }
        failures = GaugeMetricFamily(
            "reclio_failures",
            "Failures on record, by kind: items a job could not embed (until retried), jobs that "
            "ended failed or interrupted, failed provider health checks.",
            labels=["kind"],
        )
        for kind in ("item", "job_failed", "job_interrupted", "health_check"):
            failures.add_metric([kind], counts[kind])
        yield failures

    def _requests(self) -> Iterable[Metric]:
        """Requests every process sent to providers (and TMDb), kept in the database by
        `reclio_admin.outbound.pacing.record`."""
        requests = CounterMetricFamily(
            "reclio_provider_requests",
            "Requests sent to a provider (or TMDb), by the HTTP status they got (429: rate "
            "limited; 'no answer': a timeout or a refused connection).",
            labels=["provider", "status"],
        )
        tokens = CounterMetricFamily(
            "reclio_provider_tokens",
            "Tokens sent to a provider, as counted before sending (retries included).",
            labels=["provider"],
        )
        latency = HistogramMetricFamily(
            "reclio_provider_request_seconds",
            "How long a provider's requests took, from sending to the whole answer.",
            labels=["provider"],
        )
        by_provider: dict[str, tuple[int, float, list[int]]] = {}
        for row in ServiceCallTally.objects.order_by("service", "status"):
            requests.add_metric([row.service, row.status], row.requests)
            sent, seconds, buckets = by_provider.get(row.service, (0, 0.0, [0] * len(row.buckets)))
            merged = [a + b for a, b in zip(buckets, row.buckets, strict=True)]
            by_provider[row.service] = (sent + row.tokens, seconds + row.seconds, merged)
        for provider, (sent, seconds, buckets) in by_provider.items():
            tokens.add_metric([provider], sent)
            cumulative, running = [], 0
            for bound, count in zip([*map(str, LATENCY_BUCKETS), "+Inf"], buckets, strict=True):
                running += count
                cumulative.append((bound, running))
            latency.add_metric([provider], cumulative, seconds)
        yield from (requests, tokens, latency)


REGISTRY = CollectorRegistry(auto_describe=False)
REGISTRY.register(EmbeddingCollector())


def _token_matches(request: HttpRequest) -> bool | None:
    """None without an Authorization header; else whether it carries the configured token."""
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    expected = settings.METRICS_TOKEN
    if scheme.lower() != "bearer" or not expected:
        return False
    return hmac.compare_digest(token.strip().encode(), expected.encode())


def _refused(status: int, message: str) -> HttpResponse:
    response = HttpResponse(message + "\n", status=status, content_type="text/plain")
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
    return response


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    token = _token_matches(request)
    if token is False:
        return _refused(401, "The bearer token is not this server's METRICS_TOKEN.")
    if token is None:
        user = request.user
        if not user.is_authenticated:
            return _refused(
                401, "Send Authorization: Bearer <METRICS_TOKEN>, or log in as an admin."
            )
        if not (user.is_active and user.is_staff and user.has_perm(CHANGE_SETTINGS)):
            return _refused(403, "Only embedding admins may read the metrics.")
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)
