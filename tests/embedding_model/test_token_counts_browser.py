"""In Chromium: token counts still being made turn into numbers on the open settings page, with
no reload, and the page stops asking once every model is counted."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User

from embeddings.switching.tokens import refresh_token_counts
from tests.conftest import make_item

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LOCAL = "local:all-MiniLM-L6-v2"


def test_counting_turns_into_the_count_without_a_reload(
    browser_login: Any, live_server: Any, curator_user: User
) -> None:
    make_item(title="Heat", overview="A master thief plans one last heist in Los Angeles.")
    page = browser_login(curator_user)
    page.goto(f"{live_server.url}/admin/settings/embedding-model/")
    cell = page.locator(f'tr[data-model="{LOCAL}"] td.tokens')
    assert cell.inner_text() == "counting…"
    page.evaluate("window.notReloaded = true")
    about = page.locator(f'tr[data-model="{LOCAL}"] summary', has_text="About")
    about.click()  # a disclosure opened meanwhile stays open through the refresh

    refresh_token_counts()  # what the worker the page asked for does

    page.wait_for_function(
        f"""() => !document.querySelector('tr[data-model="{LOCAL}"] td.tokens')
                   .textContent.includes('counting')""",
        timeout=15_000,
    )
    assert cell.inner_text().split()[0].isdigit()
    assert page.evaluate("window.notReloaded") is True
    assert page.locator("#about-localall-minilm-l6-v2").get_attribute("open") is not None
    assert page.locator("#model-table").get_attribute("hx-trigger") is None
