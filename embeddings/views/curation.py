"""Curators act on an item's neighbours: `POST /admin/similar/<id>/curate/` judges one, pins it
at a rank, hides it, or clears what was said; and the list of every judgment."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from embeddings.forms import GRADE_OF, CurateForm, JudgmentFilterForm, NeighbourForm, errors_of
from embeddings.models import Judgment
from embeddings.models.curation import clear, hide, judge, pin
from embeddings.permissions import CURATE, VIEW, role_required
from embeddings.views.common import HtmxHttpRequest, admin_context
from embeddings.views.similar import get_item, item_not_found, neighbour_lists

PAGE_SIZE = 50


def _act(form: CurateForm, user: Any) -> str:
    """Do what the form asks; returns what was done, as the page says it."""
    item, neighbour, action = form.item, form.resolved, form.cleaned_data["action"]
    if action in GRADE_OF:
        judge(item, neighbour, GRADE_OF[action], user)
        return f"{neighbour} judged {action} for {item}."
    if action == "pin":
        pin(item, neighbour, form.cleaned_data["rank"], user)
        return f"{neighbour} pinned at rank {form.cleaned_data['rank']} for {item}."
    if action == "hide":
        hide(item, neighbour, user)
        return f"{neighbour} hidden from {item}'s neighbours."
    removed = clear(item, neighbour, user)
    return f"Cleared for {neighbour}: {', '.join(removed)}." if removed else "Nothing to clear."


@require_POST
@role_required(CURATE)
def curate(request: HtmxHttpRequest, item_id: int) -> HttpResponse:
    """htmx gets the item's neighbour lists again (every column, the curation panel); a plain
    form goes back to the page with a message. The page's options ride in the query string."""
    item = get_item(item_id)
    if item is None:
        return item_not_found(request, f"No catalog item has the id {item_id}.")
    form = CurateForm(request.POST, item=item)
    if not form.is_valid():
        return HttpResponse(errors_of(form), status=400, content_type="text/plain; charset=utf-8")
    done = _act(form, request.user)
    if request.htmx:
        options = NeighbourForm(request.GET)
        options.is_valid()
        context = {"item": item, "done": done} | neighbour_lists(request, item, options)
        return render(request, "embeddings/similar.html#neighbour-lists", context)
    messages.success(request, done)
    url = reverse("embeddings:similar", args=[item.pk])
    return redirect(f"{url}?{request.GET.urlencode()}" if request.GET else url)


def _page_number(request: HttpRequest) -> int:
    page = request.GET.get("page", "")
    return max(int(page), 1) if page.isdigit() else 1


@role_required(VIEW)
def judgments(request: HttpRequest) -> HttpResponse:
    """Newest first, a page at a time (never counting them all: one row past the page says
    whether there is a next one)."""
    form = JudgmentFilterForm(request.GET)
    rows = Judgment.objects.with_titles()
    if form.is_valid():
        data = form.cleaned_data
        if data["grade"] is not None:
            rows = rows.filter(grade=data["grade"])
        if data["curator"]:
            rows = rows.filter(set_by__username=data["curator"])
        if data["title"]:
            rows = rows.query_titled(data["title"])
    page = _page_number(request)
    shown = list(rows[(page - 1) * PAGE_SIZE : page * PAGE_SIZE + 1])
    kept = {k: v for k, v in request.GET.items() if k != "page" and v}
    context = {
        "form": form, "rows": shown[:PAGE_SIZE], "page": page,
        "has_next": len(shown) > PAGE_SIZE, "first_rank": (page - 1) * PAGE_SIZE + 1,
        "filters": urlencode(kept),
    }  # fmt: skip
    return render(request, "embeddings/judgments.html", context | admin_context(request))
