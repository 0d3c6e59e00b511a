"""Pages and actions of measured quality: measuring a model, and where two models disagree."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from embeddings import quality
from embeddings.forms import MeasureForm, PairForm, errors_of
from embeddings.models import Disagreement
from embeddings.permissions import RUN_JOBS, VIEW, role_required
from embeddings.views.common import HtmxHttpRequest, admin_context

PAGE_SIZE = 50


@require_POST
@role_required(RUN_JOBS)
def quality_measure(request: HttpRequest) -> HttpResponse:
    """Queue a measurement of one stored model; back to the page the button was on."""
    form = MeasureForm(request.POST)
    if form.is_valid():
        key = form.cleaned_data["model"]
        quality.measure_soon(key)
        messages.success(request, f"Measuring {key}: the result shows here when it is done.")
    else:
        messages.error(request, errors_of(form))
    return redirect(form.back_to)


@role_required(VIEW)
def disagreements(request: HtmxHttpRequest) -> HttpResponse:
    """The items whose top 10 differ most between two models, lowest overlap first; while the
    list is computed, htmx polls its part of the page (how far it has got, then the list)."""
    form = PairForm(request.GET)
    context = admin_context(request, "Where two models disagree") | {"form": form}
    if not form.is_valid():
        return render(request, "embeddings/disagreements.html", context, status=400)
    left, right = form.cleaned_data["model"], form.cleaned_data["compare"]
    blend = form.cleaned_data["blend"] or "vector"
    run = quality.latest_disagreements(left, right, blend)
    page = form.cleaned_data["page"] or 1
    rows = []
    if run is not None and run.status == run.Status.DONE:
        # One row past the page says whether there is a next one, without counting them all.
        found = Disagreement.objects.filter(run=run).select_related("item")
        found = found.order_by("overlap", "rbo", "item_id")
        rows = list(found[(page - 1) * PAGE_SIZE : page * PAGE_SIZE + 1])
    context |= {
        "left": left, "right": right, "run": run, "page": page,
        "rows": rows[:PAGE_SIZE], "has_next": len(rows) > PAGE_SIZE,
        "first_rank": (page - 1) * PAGE_SIZE + 1,
        "blend": blend, "pending": quality.pending_disagreements(left, right, blend),
        "compare_query": urlencode({"model": left, "compare": right, "blend": blend}),
    }  # fmt: skip
    if request.htmx:
        return render(request, "embeddings/disagreements.html#results", context)
    return render(request, "embeddings/disagreements.html", context)


@require_POST
@role_required(VIEW)
def disagreements_compute(request: HttpRequest) -> HttpResponse:
    """Queue the whole-catalog comparison of two models (a read of vectors, which any role that
    may see neighbours may ask for)."""
    form = PairForm(request.POST)
    if not form.is_valid():
        errors = "; ".join(str(e) for field in form.errors.values() for e in field)
        messages.error(request, f"Nothing computed: {errors}")
        return redirect("embeddings:embedding_model")
    left, right = form.cleaned_data["model"], form.cleaned_data["compare"]
    blend = form.cleaned_data["blend"] or "vector"
    quality.disagreements_soon(left, right, blend)
    messages.success(request, f"Comparing {left} with {right} ({blend}) over the whole catalog.")
    query = urlencode({"model": left, "compare": right, "blend": blend})
    return redirect(f"{reverse('embeddings:disagreements')}?{query}")
