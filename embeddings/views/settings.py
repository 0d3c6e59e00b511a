"""Settings → AI / LLM → Embedding Model: the models on offer with what each costs, the switch
under way with its history, and the actions of an admin (choose and confirm a model, abandon a
switch, save and test the providers' connection); switching now or back has its own
confirmation page, in switch.py."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from embeddings import quality as scores
from embeddings.forms import ConnectionForm, ModelChoiceForm, errors_of
from embeddings.models import EmbeddingSettings
from embeddings.permissions import CHANGE_SETTINGS, RUN_JOBS, VIEW, role_required
from embeddings.providers import EmbeddingError, get_provider, provider_label, scrub
from embeddings.providers.connection import connection_fields, save_connection
from embeddings.providers.credentials import reading, saved_values
from embeddings.providers.probe import probe
from embeddings.registry import MODELS
from embeddings.storage import set_coverage, stored_set_exists
from embeddings.switching import audit
from embeddings.switching.actions import SwitchRefused, abandon_switch, begin_switch
from embeddings.switching.estimates import Estimate, estimate_models
from embeddings.switching.tokens import keep_counts_fresh
from embeddings.views.common import (
    HtmxHttpRequest,
    admin_context,
    embeddings_turned_off,
    listed_jobs,
)


def _switch_context() -> dict[str, Any]:
    """The state of the active, building and previous sets; cheap enough to poll."""
    config = EmbeddingSettings.load()
    active = config.active_key
    building = config.building_key
    previous = config.previous_model_key
    jobs = listed_jobs().filter(model_key=building).order_by("kind", "-created_at")
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
        "turned_off": embeddings_turned_off(active_key),
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
    context |= admin_context(request, "Embedding model") | {
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
    context = _switch_context() | admin_context(request, f"Switch to {key}?")
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
