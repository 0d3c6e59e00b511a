"""What every page of the dashboard shares: the admin's own context, the htmx request type, the
jobs as the pages list them, and whether a model is the one that embeds nothing."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import F, Prefetch, QuerySet, Window
from django.db.models.functions import RowNumber
from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails

from embeddings.models import EmbeddingJob, JobFailure
from embeddings.registry import UnknownModel, resolve

SHOWN_FAILURES = 5  # failed items listed under a job; "Retry failed" retries them all


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def admin_context(request: HttpRequest, title: str | None = None) -> dict[str, Any]:
    """What the admin's own pages get: site header, user links, the sidebar's apps. Pages that
    write their own heading pass no title, so the admin does not print a second one."""
    return admin.site.each_context(request) | ({"title": title} if title else {})


def embeddings_turned_off(model_key: str) -> bool:
    """Whether the model is the one that embeds nothing (an unknown key is not)."""
    try:
        return resolve(model_key).provider == "none"
    except UnknownModel:
        return False


def listed_jobs() -> QuerySet[EmbeddingJob]:
    """Jobs as the pages show them, in a fixed number of queries however many there are: who
    started each, whether a live worker holds it, and its first failures with their items."""
    first_failures = (
        JobFailure.objects.select_related("item")
        .only("job_id", "reason", "item__title", "item__year")
        .annotate(rank=Window(RowNumber(), partition_by=F("job_id"), order_by=F("id").asc()))
        .filter(rank__lte=SHOWN_FAILURES)
        .order_by("id")
    )
    return (
        EmbeddingJob.objects.with_workers()
        .select_related("created_by")
        .prefetch_related(Prefetch("failures", queryset=first_failures))
    )
