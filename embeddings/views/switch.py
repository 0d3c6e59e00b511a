"""The confirmation page of every switch that changes what serves (switch now, the quality
gate's switch anyway, switch back): what would serve, then one POST that must carry the
confirmation."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from embeddings.forms import SwitchConfirmForm, errors_of
from embeddings.permissions import CHANGE_SETTINGS, role_required
from embeddings.switching.actions import SwitchRefused, switch_back, switch_now
from embeddings.switching.preview import ANYWAY, BACK, NOW, SwitchPreview, preview
from embeddings.views.common import admin_context

HEADINGS = {NOW: "Switch now", ANYWAY: "Switch anyway", BACK: "Switch back"}
DONE = {
    NOW: "Switched: {} is now the active model.",
    BACK: "Switched back: {} is the active model again.",
}
URL_NAMES = {NOW: "embeddings:embedding_switch_now", BACK: "embeddings:embedding_switch_back"}


def _confirmation(
    request: HttpRequest, action: str, shown: SwitchPreview, refusal: str = "", status: int = 200
) -> HttpResponse:
    context = admin_context(request) | {
        "shown": shown,
        "heading": HEADINGS[shown.action],
        "action_url": reverse(URL_NAMES[action]),
        "refusal": refusal,
    }
    return render(request, "embeddings/switch_confirm.html", context, status=status)


@require_http_methods(["GET", "POST"])
@role_required(CHANGE_SETTINGS)
def embedding_switch_confirm(request: HttpRequest, action: str) -> HttpResponse:
    """GET shows what the switch would serve; POST switches, only with the confirmation (else a
    400 with the same page and nothing changed). `action` is "now" or "back", from the URL."""
    try:
        shown = preview(action)
    except SwitchRefused as exc:
        messages.error(request, str(exc))
        return redirect("embeddings:embedding_model")
    if request.method == "GET":
        return _confirmation(request, action, shown)
    form = SwitchConfirmForm(request.POST)
    if not form.is_valid():
        return _confirmation(request, action, shown, errors_of(form), status=400)
    act = switch_now if action == NOW else switch_back
    try:
        key = act(request.user, expect=form.cleaned_data["confirm"])
    except SwitchRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, DONE[action].format(key))
    return redirect("embeddings:embedding_model")
