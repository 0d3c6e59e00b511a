"""In Chromium: a curator reads why a neighbour is there, flips the blend, and goes from the
compare mode to the list of items where the two models disagree most."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import User

from embeddings import quality
from embeddings.models import DisagreementRun, Embedding384
from embeddings.neighbours import lexical_rows
from tests.conftest import make_item
from tests.quality.conftest import NEW, OLD
from tests.similar.helpers import at_angle, embed


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_curator_reads_the_score_parts_flips_the_blend_and_opens_the_disagreement_list(
    browser_login: Any, live_server: Any, curator_user: User
) -> None:
    toy = make_item(
        title="Toy Story", year=1995, collection="Toy Story Collection",
        overview="Woody the cowboy toy and Buzz Lightyear the space ranger toy are rivals.",
    )  # fmt: skip
    sequel = make_item(
        title="Toy Story 2", year=1999, collection="Toy Story Collection",
        overview="Woody the cowboy toy is stolen by a collector; Buzz Lightyear leads a rescue.",
    )  # fmt: skip
    others = [
        make_item(title=title, year=2000 + i, overview=overview)
        for i, (title, overview) in enumerate(
            [
                ("Heat", "A detective hunts a crew of thieves in Los Angeles."),
                ("Alien", "The crew of a space freighter meets a deadly creature."),
                ("Jaws", "A shark terrorises a beach town on the coast."),
            ]
        )
    ]
    # The old model puts the sequel last; the new one puts it first.
    for item, old, new in [
        (toy, 0, 0),
        (sequel, 80, 2),
        *zip(others, (5, 10, 15), (40, 50, 60), strict=True),
    ]:
        embed(item, Embedding384, OLD, at_angle(384, old))
        embed(item, Embedding384, NEW, at_angle(384, new))
    lexical_rows.refresh()

    page = browser_login(curator_user)
    page.goto(f"{live_server.url}/admin/similar/{toy.pk}/?model={OLD}")

    # Hybrid by default: the sequel shows both score parts and the words it shares.
    sequel_row = page.locator(f'section[data-model="{OLD}"] tr[data-item="{sequel.pk}"]')
    assert re.search(r"vector [\d.]+ · lexical [\d.]+", sequel_row.locator("td.parts").inner_text())
    words = sequel_row.locator(".shared-terms").inner_text()
    assert "woody" in words and "buzz" in words

    # Vectors alone: no lexical part, and the sequel falls to the end of the list.
    page.select_option("#id_blend", "vector")
    page.click("input[value='Show neighbours']")
    column = page.locator(f'section[data-model="{OLD}"][data-blend="vector"]')
    assert column.locator("a.neighbour-link").last.inner_text() == "Toy Story 2"
    assert "lexical" not in column.locator("td.parts").first.inner_text()

    # Compare with the new model: the agreement numbers, then the whole catalog's list.
    page.select_option("#id_compare", NEW)
    page.click("input[value='Show neighbours']")
    assert re.search(
        r"overlap@10 [\d.]+, rank-biased overlap [\d.]+", page.inner_text("#agreement")
    )
    page.click("#disagreements-link")
    page.wait_for_url(re.compile(r"/admin/similar/disagreements/\?"))
    assert "Not computed yet" in page.inner_text("#disagreement-status")
    page.click("#disagreement-status button")
    assert "computing" in page.inner_text("#disagreement-status")

    quality.compute_disagreements(DisagreementRun.objects.get().pk)  # what the worker does
    page.reload()
    rows = page.locator("#disagreements tbody tr")
    assert rows.count() == 5
    first_title = rows.first.locator("a.compare-link").inner_text()
    rows.first.locator("a.compare-link").click()
    page.wait_for_url(re.compile(rf"model={re.escape(OLD.replace(':', '%3A'))}"))
    assert page.locator("h1").first.inner_text().startswith(first_title)
    assert page.locator(f'section[data-model="{NEW}"]').count() == 1
