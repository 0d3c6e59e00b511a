"""The three roles and the decorator that guards every dashboard page.

Anonymous and non-staff users are sent to the admin login; a staff user without the role's
permission gets a 403 page. A script asking for JSON gets a 401 or 403 JSON answer instead.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse

VIEW = "embeddings.view_neighbours"
RUN_JOBS = "embeddings.run_jobs"
CHANGE_SETTINGS = "embeddings.change_embeddingsettings"
CURATE = "embeddings.curate_neighbours"

ROLES: dict[str, list[str]] = {
    "Curators": [
        "embeddings.view_neighbours",
        "embeddings.curate_neighbours",
        "catalog.view_catalogitem",
        "embeddings.view_embeddingjob",
    ],
    "Embedding staff": [
        "embeddings.view_neighbours",
        "embeddings.curate_neighbours",
        "embeddings.run_jobs",
        "catalog.view_catalogitem",
        "embeddings.view_embeddingjob",
    ],
    "Embedding admins": [
        "embeddings.view_neighbours",
        "embeddings.curate_neighbours",
        "embeddings.run_jobs",
        "embeddings.change_embeddingsettings",
        "embeddings.view_embeddingsettings",
        "catalog.view_catalogitem",
        "catalog.change_catalogitem",
        "embeddings.view_embeddingjob",
    ],
}

View = Callable[..., HttpResponse]


def wants_json(request: HttpRequest) -> bool:
    """`?format=json`, or an Accept header that prefers JSON to HTML."""
    if request.GET.get("format") == "json":
        return True
    preferred = request.get_preferred_type(["text/html", "application/json"])
    return preferred == "application/json"


def role_required(perm: str) -> Callable[[View], View]:
    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            user = request.user
            if not (user.is_authenticated and user.is_active and user.is_staff):
                if wants_json(request):
                    return JsonResponse({"error": "Log in with a staff account."}, status=401)
                return redirect_to_login(request.get_full_path(), reverse("admin:login"))
            if not user.has_perm(perm):
                message = f"Your account lacks the permission {perm!r}."
                if wants_json(request):
                    return JsonResponse({"error": message}, status=403)
                raise PermissionDenied(message)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def ensure_roles(**kwargs: Any) -> None:
    """Create the role groups with their permissions when missing (after every migrate, and after
    a test flush, which empties the tables the data migration filled)."""
    from django.contrib.auth.models import Group, Permission

    for name, perms in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        wanted = []
        for dotted in perms:
            app_label, codename = dotted.split(".")
            permission = Permission.objects.filter(
                content_type__app_label=app_label, codename=codename
            ).first()
            if permission is not None:
                wanted.append(permission)
        group.permissions.add(*wanted)
