"""The storage page: what each table and each model's set of vectors takes on disk, and the
deletion of a set no one serves."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from embeddings import quality as scores
from embeddings.forms import StoredSetForm, errors_of
from embeddings.permissions import CHANGE_SETTINGS, RUN_JOBS, VIEW, role_required
from embeddings.storage import ProtectedModel, database_bytes, model_usage, table_usage
from embeddings.switching.actions import delete_stored_set
from embeddings.views.common import admin_context


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
    return render(request, "embeddings/storage.html", context | admin_context(request))


@require_http_methods(["GET", "POST"])
@role_required(CHANGE_SETTINGS)
def storage_delete(request: HttpRequest) -> HttpResponse:
    """GET asks for confirmation; POST deletes the model's set, unless it serves or is building."""
    form = StoredSetForm(request.POST if request.method == "POST" else request.GET)
    if not form.is_valid():
        messages.error(request, errors_of(form))
        return redirect("embeddings:storage")
    usage = form.usage
    if request.method == "POST":
        try:
            deleted = delete_stored_set(usage.model_key, request.user)
        except ProtectedModel as exc:
            messages.error(request, f"Not deleted: {exc}.")
        else:
            messages.success(request, f"Deleted {deleted:,} vectors of {usage.model_key}.")
        return redirect("embeddings:storage")
    return render(
        request, "embeddings/storage_delete.html", {"usage": usage} | admin_context(request)
    )
