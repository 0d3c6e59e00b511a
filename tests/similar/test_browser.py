from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User

from catalog.models import CatalogItem
from embeddings.models import Embedding384, Embedding768
from tests.similar.helpers import at_angle, embed, item_at

MODEL = "local:all-MiniLM-L6-v2"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_curator_compares_two_models_and_clicks_through_to_a_neighbour(
    browser_login: Any, live_server: Any, curator_user: User
) -> None:
    heat = item_at(Embedding384, MODEL, 0, title="Heat", year=1995)
    thief = item_at(Embedding384, MODEL, 10, title="Thief", year=1981)
    item_at(Embedding384, MODEL, 20, title="Ronin", year=1998)
    embed(heat, Embedding768, "other:model", at_angle(768, 0))
    embed(CatalogItem.objects.get(title="Ronin"), Embedding768, "other:model", at_angle(768, 5))
    embed(thief, Embedding768, "other:model", at_angle(768, 50))

    page = browser_login(curator_user)
    page.goto(f"{live_server.url}/admin/similar/{heat.pk}/?blend=vector")
    assert page.locator("h1").first.inner_text().startswith("Heat (1995)")
    assert page.locator(f'section[data-model="{MODEL}"] a.neighbour-link').all_inner_texts() == [
        "Thief",
        "Ronin",
    ]

    page.select_option("#id_compare", "other:model")
    page.click("input[value='Show neighbours']")
    other = page.locator('section[data-model="other:model"] a.neighbour-link')
    other.first.wait_for()
    assert other.all_inner_texts() == ["Ronin", "Thief"]
    assert "2 items (100 %)" in page.locator("#overlap").inner_text()

    page.locator(f'section[data-model="{MODEL}"] a.neighbour-link', has_text="Thief").click()
    page.wait_for_url(f"**/admin/similar/{thief.pk}/**")
    assert page.locator("h1").first.inner_text().startswith("Thief (1981)")
    # The comparison carries over to the neighbour's page.
    assert page.locator('section[data-model="other:model"]').count() == 1
