"""The jobs page: every regeneration job with its progress, and the actions on a job (start,
cancel, resume, retry its failed items) and on the catalog (a content sync now); the content
syncs from TMDb, with theirs (start one, watch its row, cancel or resume it)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.db.models import Prefetch, QuerySet
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from catalog.models import SyncEntry, SyncJob
from catalog.tmdb import control as syncs
from embeddings import jobs as job_runner
from embeddings import registry
from embeddings.forms import JobResumeForm, JobStartForm, SyncStartForm, errors_of
from embeddings.jobs import JobRefused
from embeddings.models import EmbeddingJob, EmbeddingSettings
from embeddings.permissions import RUN_JOBS, VIEW, role_required
from embeddings.providers import PROVIDERS
from embeddings.providers.sources import TMDbSource
from embeddings.registry import UnknownModel, resolve
from embeddings.storage import set_backlog
from embeddings.tasks import start_content_sync
from embeddings.views.common import HtmxHttpRequest, admin_context, listed_jobs
from reclio_admin.outbound import pacing as outbound

JOB_ROW = "embeddings/jobs.html#job_row"
SYNC_ROW = "embeddings/jobs.html#sync_row"
SHOWN_SYNCS = 5
SHOWN_REPORTED = 20  # titles a sync's row names (404s, malformed answers); the rest are counted


def _get_job(job_id: int) -> EmbeddingJob:
    return get_object_or_404(listed_jobs(), pk=job_id)


def _after_action(
    request: HtmxHttpRequest, job_id: int, action: Callable[[int], EmbeddingJob]
) -> HttpResponse:
    """Run a job action; htmx gets the refreshed row (with the refusal, if any), a plain form
    goes back to the page with a message."""
    error = ""
    try:
        action(job_id)
    except JobRefused as exc:
        error = str(exc)
    if request.htmx:
        job = _get_job(job_id)
        return render(request, JOB_ROW, {"job": job, "row_error": error, "paced": _paced([job])})
    if error:
        messages.error(request, error)
    return redirect(f"{reverse('embeddings:jobs')}#job-{job_id}")


def _paced(jobs: Iterable[EmbeddingJob]) -> dict[str, str]:
    """What holds the active jobs' remote providers back now, by provider (no query when no
    active job has one)."""
    names = {job.model_key.partition(":")[0] for job in jobs if job.is_active}
    remote = [name for name in names if name in PROVIDERS and PROVIDERS[name].remote]
    return {name: paced.summary for name, paced in outbound.paced_now(remote).items()}


def _model_keys(active: str, building: str) -> list[str]:
    keys = [spec.key for spec in registry.MODELS if spec.provider != "none"]
    return [*dict.fromkeys([active, *([building] if building else []), *keys])]


@role_required(VIEW)
def jobs(request: HtmxHttpRequest) -> HttpResponse:
    config = EmbeddingSettings.load()
    listed = list(listed_jobs()[:30])
    context = {
        "jobs": listed,
        "paced": _paced(listed),
        "active_model": config.active_key,
        "building_model": config.building_key,
        "model_keys": _model_keys(config.active_key, config.building_key),
        "modes": EmbeddingJob.Mode.choices,
        "default_batch_size": settings.EMBEDDING_BATCH_SIZE,
    }
    context |= _sync_context()
    return render(request, "embeddings/jobs.html", context | admin_context(request))


@role_required(VIEW)
def job_row(request: HtmxHttpRequest, job_id: int) -> HttpResponse:
    job = _get_job(job_id)
    if not request.htmx:
        return redirect(f"{reverse('embeddings:jobs')}#job-{job.pk}")
    return render(request, JOB_ROW, {"job": job, "paced": _paced([job])})


@require_POST
@role_required(RUN_JOBS)
def job_start(request: HtmxHttpRequest) -> HttpResponse:
    form = JobStartForm(request.POST)
    if not form.is_valid():
        messages.error(request, errors_of(form))
        return redirect("embeddings:jobs")
    data = form.cleaned_data
    for kind in form.kinds():
        try:
            job = job_runner.start_job(
                kind,
                data["model_key"] or EmbeddingSettings.load().active_key,
                data["mode"] or EmbeddingJob.Mode.STALE,
                user=request.user,
                batch_size=data["batch_size"],
                spending_cap_usd=data["spending_cap_usd"],
            )
        except JobRefused as exc:
            messages.error(request, str(exc))
        else:
            messages.success(
                request,
                f"Started job #{job.pk}: {job.get_kind_display().lower()} → {job.model_key}.",
            )
    return redirect("embeddings:jobs")


@require_POST
@role_required(RUN_JOBS)
def job_cancel(request: HtmxHttpRequest, job_id: int) -> HttpResponse:
    return _after_action(request, job_id, job_runner.cancel_job)


@require_POST
@role_required(RUN_JOBS)
def job_resume(request: HtmxHttpRequest, job_id: int) -> HttpResponse:
    form = JobResumeForm(request.POST)

    def resume(pk: int) -> EmbeddingJob:
        if not form.is_valid():
            raise JobRefused(errors_of(form))
        return job_runner.resume_job(pk, spending_cap_usd=form.cleaned_data["spending_cap_usd"])

    return _after_action(request, job_id, resume)


@require_POST
@role_required(RUN_JOBS)
def job_retry_failed(request: HtmxHttpRequest, job_id: int) -> HttpResponse:
    return _after_action(request, job_id, job_runner.retry_failed)


@require_POST
@role_required(RUN_JOBS)
def sync_content(request: HtmxHttpRequest) -> HttpResponse:
    try:
        started = start_content_sync(user=request.user)
    except JobRefused as exc:
        messages.error(request, str(exc))
    else:
        numbers = ", ".join(f"#{job.pk}" for job in started)
        messages.success(request, f"Content sync started: jobs {numbers}.")
    return redirect("embeddings:jobs")


# --- Content syncs from TMDb ----------------------------------------------------------------------


def _syncs() -> QuerySet[SyncJob]:
    """Syncs as the page shows them: whether a live worker holds each, who started it, and the
    titles it reported, read in one query for all."""
    reported = SyncEntry.objects.filter(
        outcome__in=[SyncEntry.Outcome.MISSING, SyncEntry.Outcome.SKIPPED]
    ).order_by("id")
    return (
        SyncJob.objects.with_workers()
        .select_related("created_by")
        .prefetch_related(Prefetch("entries", queryset=reported, to_attr="reported"))
    )


def _get_sync(sync_id: int) -> SyncJob:
    sync = get_object_or_404(_syncs(), pk=sync_id)
    sync.reported = sync.reported[:SHOWN_REPORTED]  # type: ignore[attr-defined]
    return sync


def _sync_context() -> dict[str, Any]:
    shown = list(_syncs()[:SHOWN_SYNCS])
    for sync in shown:
        sync.reported = sync.reported[:SHOWN_REPORTED]  # type: ignore[attr-defined]
    return {
        "syncs": shown,
        "tmdb_configured": TMDbSource.configured(),
        "charts": syncs.chart_choices(),
        "default_since": syncs.default_since(),
    }


@role_required(VIEW)
def sync_row(request: HtmxHttpRequest, sync_id: int) -> HttpResponse:
    sync = _get_sync(sync_id)
    if not request.htmx:
        return redirect(f"{reverse('embeddings:jobs')}#sync-{sync.pk}")
    return render(request, SYNC_ROW, {"sync": sync})


@require_POST
@role_required(RUN_JOBS)
def sync_start(request: HtmxHttpRequest) -> HttpResponse:
    form = SyncStartForm(request.POST)
    if not form.is_valid():
        messages.error(request, errors_of(form))
        return redirect("embeddings:jobs")
    data = form.cleaned_data
    try:
        sync = syncs.create_sync(
            since=data["since"],
            charts=data["charts"],
            chart_pages=data["pages"] or 0,
            user=request.user,
        )
    except syncs.SyncRefused as exc:
        messages.error(request, str(exc))
        return redirect("embeddings:jobs")
    syncs.queue_sync(sync)
    messages.success(request, f"Started sync #{sync.pk}: TMDb's changes from {sync.since}.")
    return redirect(f"{reverse('embeddings:jobs')}#sync-{sync.pk}")


def _after_sync_action(
    request: HtmxHttpRequest, sync_id: int, action: Callable[[int], Any]
) -> HttpResponse:
    """As `_after_action`, for a sync."""
    error = ""
    try:
        action(sync_id)
    except syncs.SyncRefused as exc:
        error = str(exc)
    if request.htmx:
        return render(request, SYNC_ROW, {"sync": _get_sync(sync_id), "row_error": error})
    if error:
        messages.error(request, error)
    return redirect(f"{reverse('embeddings:jobs')}#sync-{sync_id}")


@require_POST
@role_required(RUN_JOBS)
def sync_cancel(request: HtmxHttpRequest, sync_id: int) -> HttpResponse:
    return _after_sync_action(request, sync_id, syncs.cancel_sync)


@require_POST
@role_required(RUN_JOBS)
def sync_resume(request: HtmxHttpRequest, sync_id: int) -> HttpResponse:
    return _after_sync_action(request, sync_id, lambda pk: syncs.queue_sync(syncs.resume_sync(pk)))


@require_POST
@role_required(RUN_JOBS)
def bring_up_to_date(request: HtmxHttpRequest) -> HttpResponse:
    """The admin index's button: a job for each kind of item the active model's set lacks or
    holds from an earlier text, in the mode that embeds both."""
    try:
        model = resolve(EmbeddingSettings.load().active_key)
    except UnknownModel as exc:
        messages.error(request, str(exc))
        return redirect("admin:index")
    kinds = list(set_backlog(model)) if model.provider != "none" else []
    if not kinds:
        messages.info(
            request, f"Nothing to do: every item has a vector of {model.key} for its text."
        )
        return redirect("admin:index")
    for kind in kinds:
        try:
            job = job_runner.start_job(kind, model, EmbeddingJob.Mode.STALE, user=request.user)
        except JobRefused as exc:
            messages.error(request, str(exc))
        else:
            messages.success(
                request, f"Started job #{job.pk}: {job.get_kind_display().lower()} → {model.key}."
            )
    return redirect("embeddings:jobs")
