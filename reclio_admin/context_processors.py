from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest


def site(request: HttpRequest) -> dict[str, str]:
    """The admin's header on every page, error pages included."""
    return {"site_header": str(admin.site.site_header), "site_title": str(admin.site.site_title)}
