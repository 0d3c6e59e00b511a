from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_POST

from embeddings.permissions import CHANGE_SETTINGS, RUN_JOBS, VIEW, role_required

# --- Jobs -----------------------------------------------------------------------------------------


@role_required(VIEW)
def jobs(request: HttpRequest) -> HttpResponse:
    raise Http404("The jobs page is not built yet")


@role_required(VIEW)
def job_row(request: HttpRequest, job_id: int) -> HttpResponse:
    raise Http404("The jobs page is not built yet")


@require_POST
@role_required(RUN_JOBS)
def job_start(request: HttpRequest) -> HttpResponse:
    raise Http404("The jobs page is not built yet")


@require_POST
@role_required(RUN_JOBS)
def job_cancel(request: HttpRequest, job_id: int) -> HttpResponse:
    raise Http404("The jobs page is not built yet")


@require_POST
@role_required(RUN_JOBS)
def job_resume(request: HttpRequest, job_id: int) -> HttpResponse:
    raise Http404("The jobs page is not built yet")


@require_POST
@role_required(RUN_JOBS)
def job_retry_failed(request: HttpRequest, job_id: int) -> HttpResponse:
    raise Http404("The jobs page is not built yet")


@require_POST
@role_required(RUN_JOBS)
def sync_content(request: HttpRequest) -> HttpResponse:
    raise Http404("The content sync is not built yet")


# --- Settings → AI / LLM → Embedding Model ------------------------------------------------------------


@role_required(VIEW)
def embedding_model(request: HttpRequest) -> HttpResponse:
    _ = CHANGE_SETTINGS
    raise Http404("The embedding model page is not built yet")


# --- Storage --------------------------------------------------------------------------------------


@role_required(VIEW)
def storage(request: HttpRequest) -> HttpResponse:
    raise Http404("The storage page is not built yet")


# --- Similar --------------------------------------------------------------------------------------


@role_required(VIEW)
def similar(request: HttpRequest, item_id: int) -> HttpResponse:
    raise Http404("The similar page is not built yet")


@role_required(VIEW)
def similar_tmdb(request: HttpRequest, tmdb_id: int) -> HttpResponse:
    raise Http404("The similar page is not built yet")
