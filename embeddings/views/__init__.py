from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import admin, messages
from django.db.models import F, Prefetch, QuerySet, Window
from django.db.models.functions import RowNumber
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.middleware import HtmxDetails

from catalog.models import CatalogItem
from embeddings import jobs as job_runner
from embeddings import quality as scores
from embeddings import registry
from embeddings.forms import ConnectionForm, JobStartForm, ModelChoiceForm, NeighbourForm, errors_of
from embeddings.jobs import JobRefused
from embeddings.models import EmbeddingJob, EmbeddingSettings, JobFailure, LexicalVector
from embeddings.neighbours.blends import (
    BLEND_LABELS,
    DEFAULT_WEIGHT,
    LEXICAL,
    VECTOR,
    Ranked,
    blended_neighbours,
    default_blend,
    explain,
    ranked,
    text_query,
)
from embeddings.neighbours.filters import Filters
from embeddings.neighbours.overlap import Comparison
from embeddings.neighbours.stored import StoredVector, resolve_stored, stored_vectors
from embeddings.neighbours.titles import find_titles
from embeddings.neighbours.vector import METRIC_LABELS
from embeddings.permissions import CHANGE_SETTINGS, RUN_JOBS, VIEW, role_required, wants_json
from embeddings.providers import EmbeddingError, get_provider, provider_label, scrub
from embeddings.providers.connection import connection_fields, save_connection
from embeddings.providers.credentials import reading, saved_values
from embeddings.providers.probe import probe
from embeddings.registry import MODELS, UnknownModel, resolve
from embeddings.storage import (
    ProtectedModel,
    database_bytes,
    model_usage,
    set_coverage,
    stored_set_exists,
    table_usage,
)
from embeddings.switching import audit
from embeddings.switching.actions import (
    SwitchRefused,
    abandon_switch,
    begin_switch,
    delete_stored_set,
)
from embeddings.switching.estimates import Estimate, estimate_models
from embeddings.switching.tokens import keep_counts_fresh
from embeddings.tasks import start_content_sync
from embeddings.text import item_text, source_hash


def _admin_context(request: HttpRequest, title: str | None = None) -> dict[str, Any]:
    """What the admin's own pages get: site header, user links, the sidebar's apps. Pages that
    write their own heading pass no title, so the admin does not print a second one."""
    return admin.site.each_context(request) | ({"title": title} if title else {})


# --- Jobs -----------------------------------------------------------------------------------------

JOB_ROW = "embeddings/jobs.html#job_row"
SHOWN_FAILURES = 5  # failed items listed under a job; "Retry failed" retries them all


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def _jobs() -> QuerySet[EmbeddingJob]:
    """Jobs as the page shows them, in a fixed number of queries however many there are: who
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


def _get_job(job_id: int) -> EmbeddingJob:
    return get_object_or_404(_jobs(), pk=job_id)


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
        return render(request, JOB_ROW, {"job": _get_job(job_id), "row_error": error})
    if error:
        messages.error(request, error)
    return redirect(f"{reverse('embeddings:jobs')}#job-{job_id}")


def _model_keys(active: str, building: str) -> list[str]:
    keys = [spec.key for spec in registry.MODELS if spec.provider != "none"]
    return [*dict.fromkeys([active, *([building] if building else []), *keys])]


@role_required(VIEW)
def jobs(request: HtmxHttpRequest) -> HttpResponse:
    config = EmbeddingSettings.load()
    context = {
        "jobs": _jobs()[:30],
        "active_model": config.active_key,
        "building_model": config.building_key,
        "model_keys": _model_keys(config.active_key, config.building_key),
        "modes": EmbeddingJob.Mode.choices,
        "default_batch_size": settings.EMBEDDING_BATCH_SIZE,
    }
    return render(request, "embeddings/jobs.html", context | _admin_context(request))


@role_required(VIEW)
def job_row(request: HtmxHttpRequest, job_id: int) -> HttpResponse:
    job = _get_job(job_id)
    if not request.htmx:
        return redirect(f"{reverse('embeddings:jobs')}#job-{job.pk}")
    return render(request, JOB_ROW, {"job": job})


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
    return _after_action(request, job_id, job_runner.resume_job)


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


# --- Settings → AI / LLM → Embedding Model ------------------------------------------------------------


def _switch_context() -> dict[str, Any]:
    """The state of the active, building and previous sets; cheap enough to poll."""
    config = EmbeddingSettings.load()
    active = config.active_key
    building = config.building_key
    previous = config.previous_model_key
    jobs = _jobs().filter(model_key=building).order_by("kind", "-created_at")
    building_coverage = set_coverage(building) if building else None
    complete = building_coverage is not None and building_coverage.complete
    return {
        "config": config,
        "active_key": active,
        "active_coverage": set_coverage(active),
        "building_coverage": building_coverage,
        "building_jobs": list(jobs) if building else [],
        "previous_available": bool(previous) and stored_set_exists(previous),
        "gate": scores.gate(building, active) if complete else None,
        "history": audit.history(),
    }


def _provider_groups(estimates: list[Estimate]) -> list[dict[str, Any]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    measured = scores.by_base_key(scores.panel())
    with reading(saved_values()):  # the stored keys, read once for every row
        for estimate in estimates:
            row = {"e": estimate, "ready": get_provider(estimate.key).readiness()}
            row["quality"] = measured.get(estimate.spec.key, [])
            groups.setdefault(estimate.spec.provider, []).append(row)
    return [{"provider": provider_label(p), "rows": rows} for p, rows in groups.items()]


def _models_context(request: HttpRequest, active_key: str) -> dict[str, Any]:
    """The model table: every model but the one that turns embeddings off (a line of its own),
    polled while the catalog's tokens are still being counted."""
    estimates = estimate_models()
    counting = any(e.tokens and not e.tokens.complete for e in estimates)
    keep_counts_fresh(counting)
    models = [e for e in estimates if e.spec.provider != "none"]
    return {
        "groups": _provider_groups(models),
        "catalog_items": estimates[0].items if estimates else 0,
        "tokens_pending": counting,
        "turned_off": _embeddings_turned_off(active_key),
        "can_change": request.user.has_perm(CHANGE_SETTINGS),
        "can_measure": request.user.has_perm(RUN_JOBS),
    }


@role_required(VIEW)
def embedding_model(request: HtmxHttpRequest) -> HttpResponse:
    context = _switch_context()
    if request.htmx and request.htmx.target == "model-table":
        context |= _models_context(request, context["active_key"])
        return render(request, "embeddings/embedding_model.html#models", context)
    if request.htmx:
        return render(request, "embeddings/embedding_model.html#switch", context)
    context |= _admin_context(request, "Embedding model") | {
        **_models_context(request, context["active_key"]),
        "connection": connection_fields(),
        "test_models": [spec.key for spec in MODELS],
    }
    return render(request, "embeddings/embedding_model.html", context)


@role_required(CHANGE_SETTINGS)
def embedding_model_choose(request: HttpRequest) -> HttpResponse:
    """The confirmation page: what the switch costs, before anything starts."""
    form = ModelChoiceForm(request.GET)
    if not form.is_valid():
        messages.error(request, errors_of(form))
        return redirect("embeddings:embedding_model")
    key = form.resolved.key
    context = _switch_context() | _admin_context(request, f"Switch to {key}?")
    context["estimate"] = estimate_models([key])[0]
    return render(request, "embeddings/embedding_model_confirm.html", context)


@require_POST
@role_required(CHANGE_SETTINGS)
def embedding_model_confirm(request: HttpRequest) -> HttpResponse:
    form = ModelChoiceForm(request.POST)
    if not form.is_valid():
        messages.error(request, errors_of(form))
        return redirect("embeddings:embedding_model")
    model = form.resolved
    try:
        probe(model.key)
        jobs = begin_switch(model, request.user)
    except SwitchRefused as exc:
        messages.error(request, str(exc))
    except EmbeddingError as exc:
        messages.error(
            request,
            f"The model {model.key} did not answer: {scrub(str(exc))}. Nothing was changed.",
        )
    else:
        messages.success(request, f"Building {model.key}: {len(jobs)} jobs started.")
    return redirect("embeddings:embedding_model")


@require_POST
@role_required(CHANGE_SETTINGS)
def embedding_abandon(request: HttpRequest) -> HttpResponse:
    """Stop building the model of the switch under way; what serves does not change."""
    try:
        key = abandon_switch(request.user)
    except SwitchRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Stopped building {key}; the vectors made so far are kept.")
    return redirect("embeddings:embedding_model")


@require_POST
@role_required(CHANGE_SETTINGS)
def embedding_connection(request: HttpRequest) -> HttpResponse:
    """Save keys and hosts, each provider's on their own: a provider with a field in error, or
    whose changed credentials do not answer, keeps its stored values; the others are saved."""
    form = ConnectionForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"{errors_of(form)} Not saved: {', '.join(form.refused())}.")
    outcome = save_connection(form.values())
    for label, error in outcome.failed.items():
        nothing = "" if outcome.saved else " Nothing was saved."
        messages.error(
            request, f"{label}: connection failed: {error}. Its settings were not saved.{nothing}"
        )
    if outcome.saved:
        answered = "".join(
            f" {key} answered in {ms:.0f} ms." for key, ms in outcome.answered.items()
        )
        messages.success(
            request, f"Connection settings saved for {', '.join(outcome.saved)}.{answered}"
        )
    return redirect("embeddings:embedding_model")


@require_POST
@role_required(CHANGE_SETTINGS)
def embedding_test_connection(request: HttpRequest) -> HttpResponse:
    form = ModelChoiceForm(request.POST)
    if not form.is_valid():
        messages.error(request, errors_of(form))
        return redirect("embeddings:embedding_model")
    key = form.resolved.key
    try:
        latency = probe(key)
    except EmbeddingError as exc:
        messages.error(request, f"Connection to {key} failed: {scrub(str(exc))}")
    else:
        messages.success(request, f"Connection to {key} works: answered in {latency:.0f} ms.")
    return redirect("embeddings:embedding_model")


# --- Storage --------------------------------------------------------------------------------------


@role_required(VIEW)
def storage(request: HttpRequest) -> HttpResponse:
    tables, models = table_usage(), model_usage()
    measured = scores.panel(m.model_key for m in models)
    context = {
        "tables": tables,
        "largest": max((t.total_bytes for t in tables), default=0) or 1,
        "models": [(m, [measured[m.model_key]]) for m in models],
        "database_bytes": database_bytes(),
        "can_delete": request.user.has_perm(CHANGE_SETTINGS),
        "can_measure": request.user.has_perm(RUN_JOBS),
    }
    return render(request, "embeddings/storage.html", context | _admin_context(request))


@require_http_methods(["GET", "POST"])
@role_required(CHANGE_SETTINGS)
def storage_delete(request: HttpRequest) -> HttpResponse:
    """GET asks for confirmation; POST deletes the model's set, unless it serves or is building."""
    model_key = (request.POST if request.method == "POST" else request.GET).get("model", "").strip()
    usage = next((m for m in model_usage() if m.model_key == model_key), None)
    if usage is None:
        messages.error(request, f"No vectors are stored for the model {model_key!r}.")
        return redirect("embeddings:storage")
    if request.method == "POST":
        try:
            deleted = delete_stored_set(model_key, request.user)
        except ProtectedModel as exc:
            messages.error(request, f"Not deleted: {exc}.")
        else:
            messages.success(request, f"Deleted {deleted:,} vectors of {model_key}.")
        return redirect("embeddings:storage")
    return render(
        request, "embeddings/storage_delete.html", {"usage": usage} | _admin_context(request)
    )


# --- Similar --------------------------------------------------------------------------------------


@dataclass
class Column:
    """One model's view of the item: its stored vector (or none) and its neighbours under the
    blend, each with why it is there."""

    model_key: str
    stored: StoredVector | None = None
    neighbours: list[Ranked] = dataclass_field(default_factory=list)


def _get_item(item_id: int) -> CatalogItem | None:
    return CatalogItem.objects.filter(pk=item_id).first()


def _item_not_found(request: HttpRequest, message: str) -> HttpResponse:
    if wants_json(request):
        return JsonResponse({"error": message}, status=404)
    return render(
        request,
        "embeddings/similar_404.html",
        {"message": message} | _admin_context(request),
        status=404,
    )


def _filters(item: CatalogItem, form: NeighbourForm) -> Filters:
    kind = "" if form.value("scope", "same") == "any" else item.kind
    return Filters(kind, form.value("year_min"), form.value("year_max"), form.value("genre", ""))


def _blend_options(item: CatalogItem, form: NeighbourForm) -> dict[str, Any]:
    return {
        "blend": form.value("blend", default_blend()), "k": form.value("k", 10),
        "weight": form.value("weight", DEFAULT_WEIGHT), "metric": form.value("metric", "cosine"),
        "filters": _filters(item, form),
    }  # fmt: skip


def _column(
    item: CatalogItem, vectors: dict[str, StoredVector], model_key: str, form: NeighbourForm
) -> Column:
    found = blended_neighbours(item, resolve_stored(model_key), **_blend_options(item, form))
    return Column(model_key, vectors.get(model_key), explain(item, found))


def _agreements(
    item: CatalogItem, columns: list[Column], form: NeighbourForm
) -> tuple[scores.Agreement | None, scores.Agreement | None]:
    """How far the two columns agree, and, under a blend with words, how far the two models'
    vectors alone do: the words are the same for both models, and make any two look alike."""
    if len(columns) < 2:
        return None, None
    shown = scores.agreement(*([n.item.pk for n in column.neighbours] for column in columns))
    options = _blend_options(item, form)
    if options["blend"] == VECTOR:
        return shown, None
    options["blend"] = VECTOR
    alone = (
        [n.item.pk for n in blended_neighbours(item, resolve_stored(c.model_key), **options)]
        for c in columns
    )
    return shown, scores.agreement(*alone)


def _text_search(
    item: CatalogItem, model_key: str, form: NeighbourForm
) -> tuple[list[Ranked], str]:
    """Neighbours of the free text under the blend: its words, and its embedding on the query
    side (unless the blend is lexical); or the provider's named error."""
    options = _blend_options(item, form)
    model = resolve_stored(model_key)
    vector = None
    if options["blend"] != LEXICAL:
        if model is None:
            return [], f"No vectors are stored for {model_key}."
        try:
            provider = get_provider(model_key).within(settings.PROVIDER_DEADLINE)
            [vector] = provider.embed([form.value("q")], query=True)
        except (EmbeddingError, UnknownModel) as exc:
            return [], f"{model_key} could not embed the text: {exc}"
    return ranked(text_query(form.value("q"), vector), model, **options), ""


def _keep_query(request: HttpRequest) -> str:
    """The options a neighbour's link carries along: same models, blend, metric and k, no searches."""
    keep = {
        name: request.GET[name]
        for name in ("model", "compare", "blend", "weight", "k", "metric")
        if request.GET.get(name)
    }
    return urlencode(keep)


def _embeddings_turned_off(model_key: str) -> bool:
    try:
        return resolve(model_key).provider == "none"
    except UnknownModel:
        return False


def _as_json(item: CatalogItem) -> dict[str, Any]:
    return {
        "id": item.pk, "tmdb_id": item.tmdb_id, "kind": item.kind, "title": item.title,
        "year": item.year,
    }  # fmt: skip


def _similar_json(item: CatalogItem, form: NeighbourForm) -> JsonResponse:
    """The page's neighbours for scripts; a bad parameter is a 400 that names it."""
    if not form.is_valid():
        fields = {name: [str(e) for e in errors] for name, errors in form.errors.items()}
        problems = "; ".join(f"{name}: {' '.join(errors)}" for name, errors in fields.items())
        return JsonResponse({"error": f"Bad parameters: {problems}", "fields": fields}, status=400)
    model_key = form.value("model", EmbeddingSettings.load().active_key)
    if form.value("q"):
        found, error = _text_search(item, model_key, form)
        if error:
            return JsonResponse({"error": error}, status=400)
    else:
        found = _column(item, stored_vectors(item.pk), model_key, form).neighbours
    rows = [
        _as_json(r.item) | {"score": r.score, "vector_score": r.vector_score, "lexical_score": r.lexical_score}
        for r in found
    ]  # fmt: skip
    blend = form.value("blend", default_blend())
    return JsonResponse(
        {"item": _as_json(item), "model": model_key, "blend": blend, "neighbours": rows}
    )


@role_required(VIEW)
def similar(request: HtmxHttpRequest, item_id: int) -> HttpResponse:
    item = _get_item(item_id)
    if item is None:
        return _item_not_found(request, f"No catalog item has the id {item_id}.")
    form = NeighbourForm(request.GET)
    if wants_json(request):
        return _similar_json(item, form)
    if request.htmx and "find" in request.GET:
        found = find_titles(request.GET["find"])
        return render(
            request, "embeddings/similar.html#title-results", {"found": found, "searched": True}
        )
    form.is_valid()  # fills cleaned_data; the errors are shown beside their fields
    active = EmbeddingSettings.load().active_key
    vectors = stored_vectors(item.pk)
    model_key = form.value("model", active)
    compare_key = form.value("compare", "")
    # A refused model is not replaced by another for the search: the field says what is wrong.
    searching = form.value("q") and "model" not in form.errors
    text_results, text_error = _text_search(item, model_key, form) if searching else ([], "")
    columns = [_column(item, vectors, model_key, form)]
    if compare_key and compare_key != model_key:
        columns.append(_column(item, vectors, compare_key, form))
    comparison = (
        Comparison(columns[0].neighbours, columns[1].neighbours) if len(columns) == 2 else None
    )
    agreement, vector_agreement = _agreements(item, columns, form)
    text = item_text(item)
    context = {
        "item": item, "text": text, "current_hash": source_hash(text), "form": form, "vectors": vectors,
        "active": active, "keep": _keep_query(request),
        "turned_off": _embeddings_turned_off(active), "columns": columns, "comparison": comparison,
        "agreement": agreement, "vector_agreement": vector_agreement,
        "blend": form.value("blend", default_blend()), "blend_labels": BLEND_LABELS,
        "lexical_row": LexicalVector.objects.filter(item_id=item.pk).first(),
        "metric_label": METRIC_LABELS[form.value("metric", "cosine")],
        "text_results": text_results, "text_error": text_error,
        "found": find_titles(request.GET.get("find", "")), "searched": "find" in request.GET,
        "can_embed": request.user.has_perm(RUN_JOBS),
    }  # fmt: skip
    return render(request, "embeddings/similar.html", context | _admin_context(request))


@role_required(VIEW)
def similar_tmdb(request: HttpRequest, tmdb_id: int) -> HttpResponse:
    """The same page, found by TMDB id (`?kind=movie|series`; movies first when both exist)."""
    items = CatalogItem.objects.filter(tmdb_id=tmdb_id).order_by("kind")
    kind = request.GET.get("kind", "")
    if kind in CatalogItem.Kind.values:
        items = items.filter(kind=kind)
    item = items.first()
    if item is None:
        return _item_not_found(request, f"No catalog item has the TMDB id {tmdb_id}.")
    query = request.GET.copy()
    query.pop("kind", None)
    url = reverse("embeddings:similar", args=[item.pk])
    return redirect(f"{url}?{query.urlencode()}" if query else url)


@require_POST
@role_required(RUN_JOBS)
def similar_embed(request: HttpRequest, item_id: int) -> HttpResponse:
    """Embed one item now with one model, then show its page again."""
    item = _get_item(item_id)
    if item is None:
        return _item_not_found(request, f"No catalog item has the id {item_id}.")
    model_key = request.POST.get("model", "").strip() or EmbeddingSettings.load().active_key
    try:
        result = job_runner.embed_items([item.pk], model_key)
    except (JobRefused, EmbeddingError) as exc:
        messages.error(request, f"{model_key} could not embed {item}: {exc}")
    else:
        if result.failed:
            messages.error(
                request, f"{model_key} could not embed {item}: {'; '.join(result.errors)}"
            )
        elif result.done:
            messages.success(request, f"Embedded {item} with {model_key}.")
        else:
            messages.info(request, f"{item} has no text to embed, or its vector is up to date.")
    url = reverse("embeddings:similar", args=[item.pk])
    return redirect(f"{url}?{urlencode({'model': model_key})}")
