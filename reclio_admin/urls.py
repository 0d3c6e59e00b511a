from __future__ import annotations

from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from embeddings.metrics import metrics
from reclio_admin.forms import LoginForm

admin.site.site_header = "Reclio Admin"
admin.site.site_title = "Reclio Admin"
admin.site.index_title = "Catalog and embeddings"
admin.site.login_form = LoginForm

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    # Browsers ask for /favicon.ico on pages that name no icon (a JSON answer, a plain error).
    path("favicon.ico", RedirectView.as_view(url=static("favicon.svg"), permanent=True)),
    path("metrics", metrics, name="metrics"),
    # The dashboard pages live under /admin/ beside Django's admin, so they share its login.
    path("admin/", include("embeddings.urls")),
    path("admin/", admin.site.urls),
]
