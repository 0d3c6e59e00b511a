"""A curator in Chromium marks a neighbour bad, pins another, and sees the lists change."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User

from embeddings.models import Curation, Judgment
from tests.curation.conftest import MODEL, OTHER

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _titles(page: Any, model: str) -> list[str]:
    titles: list[str] = page.locator(
        f'section[data-model="{model}"] a.neighbour-link'
    ).all_inner_texts()
    return titles


def test_a_curator_marks_a_neighbour_bad_and_pins_another_in_both_columns(
    browser_login: Any, live_server: Any, curator_user: User, films: dict[str, Any]
) -> None:
    heat = films["Heat"]
    page = browser_login(curator_user)
    page.goto(
        f"{live_server.url}/admin/similar/{heat.pk}/?blend=vector&model={MODEL}&compare={OTHER}&k=3"
    )
    assert _titles(page, MODEL) == ["Thief", "Ronin", "Collateral"]

    ronin = page.locator(f'section[data-model="{MODEL}"] tr[data-item="{films["Ronin"].pk}"]')
    ronin.locator("button[value=bad]").click()
    page.locator("#curate-done", has_text="Ronin (1981) judged bad").wait_for()
    assert (
        "bad"
        in page.locator(
            f'section[data-model="{MODEL}"] tr[data-item="{films["Ronin"].pk}"] .judged'
        ).inner_text()
    )

    collateral = page.locator(
        f'section[data-model="{OTHER}"] tr[data-item="{films["Collateral"].pk}"]'
    )
    collateral.locator("input.rank").fill("1")
    collateral.locator("button[value=pin]").click()
    page.locator("#curate-done", has_text="pinned at rank 1").wait_for()

    assert _titles(page, MODEL) == ["Collateral", "Thief", "Ronin"]
    assert _titles(page, OTHER)[0] == "Collateral"
    assert "Pinned at rank 1 by cleo" in page.locator("#curation-notes").inner_text()
    assert Judgment.objects.get().grade == 0 and Curation.objects.get().rank == 1

    # Undo the pin from the list itself: the model's own order is back.
    page.locator(
        f'section[data-model="{MODEL}"] tr[data-item="{films["Collateral"].pk}"] button.undo'
    ).click()
    page.locator("#curate-done", has_text="Cleared for Collateral").wait_for()
    assert _titles(page, MODEL) == ["Thief", "Ronin", "Collateral"]
