"""Every page carries a Content-Security-Policy, and the pages work under it in Chromium."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from tests.conftest import make_item


@pytest.mark.django_db
def test_pages_allow_scripts_only_from_this_site(admin_client_: Client) -> None:
    for url in ("/admin/login/", "/admin/", "/admin/jobs/", "/admin/no-such-page/"):
        policy = admin_client_.get(url)["Content-Security-Policy"]

        assert "script-src 'self'" in policy and "unsafe-eval" not in policy
        assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_main_pages_load_in_chromium_without_a_policy_violation(
    browser_login: Any, live_server: Any, admin_user: User
) -> None:
    item = make_item(title="Heat", year=1995)
    make_item(title="Heat and Dust", year=1983)
    page = browser_login(admin_user)
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text))

    for path in (
        "/admin/",
        "/admin/jobs/",
        "/admin/storage/",
        "/admin/settings/embedding-model/",
        "/admin/catalog/catalogitem/",
        f"/admin/catalog/catalogitem/{item.pk}/change/",
        f"/admin/similar/{item.pk}/",
    ):
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 200, path
        assert "script-src 'self'" in response.headers["content-security-policy"]
        page.wait_for_load_state("networkidle")
    # htmx runs under the policy: typing a title swaps in the matching items.
    page.fill("input[hx-get]", "Heat and")
    page.locator("#title-results", has_text="Heat and Dust").wait_for()

    assert [line for line in refused if "Content Security Policy" in line] == []
