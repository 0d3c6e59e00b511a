"""Requests turned away before any view sees them."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, QueryDict


class RefuseOversizedForms:
    """A form body over DATA_UPLOAD_MAX_MEMORY_SIZE answers 413 with a sentence. Django would
    answer 400 from wherever the form is first read, and log the exception's traceback."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            request.POST  # noqa: B018 - parses a form body now, as the CSRF check would next
        except RequestDataTooBig:
            return HttpResponse(
                f"Request too large: a form may send at most "
                f"{settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} bytes of fields.",
                status=413,
                content_type="text/plain; charset=utf-8",
            )
        return self.get_response(request)


class RejectNulBytes:
    """A NUL character in a query or form parameter answers 400 with a sentence. PostgreSQL
    text cannot hold one, so a search box or an admin filter would otherwise fail with a 500
    deep inside a query."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        urlencoded = request.content_type == "application/x-www-form-urlencoded"
        form = request.POST if urlencoded else QueryDict()
        for params in (request.GET, form):
            for name, values in params.lists():
                if "\x00" in name or any("\x00" in value for value in values):
                    return HttpResponseBadRequest(
                        f"Bad request: the parameter {name.replace(chr(0), '')!r} contains a NUL "
                        "character, which no field accepts.",
                        content_type="text/plain; charset=utf-8",
                    )
        return self.get_response(request)
