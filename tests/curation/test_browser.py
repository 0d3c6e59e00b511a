"""A curator in Chromium marks a neighbour bad, pins another, and sees the lists change; staff
measure the model and the panel shows how well it finds what curators judged."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from embeddings.models import Curation, Judgment, QualityRun
from tests.curation.conftest import MODEL, OTHER
from tests.jobs.conftest import spawn, wait_for, worker_env

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
__all__ = ["spawn", "worker_env"]  # fixtures the worker process needs


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


@pytest.mark.slow
def test_what_a_curator_judged_shows_as_the_judged_score_once_staff_press_measure(
    browser_login: Any,
    live_server: Any,
    curator_user: User,
    staff_user: User,
    films: dict[str, Any],
    spawn: Callable[..., Any],
) -> None:
    """Heat's neighbours under the model: Thief, Ronin, Collateral, Drive, Up. Drive, judged
    good, is the model's fourth: judged recall@10 1 and nDCG@10 2 / log2(5) / 2 = 0.431. The
    pin moves what the page shows, not what the model is measured on."""
    heat, drive = films["Heat"], films["Drive"]
    page = browser_login(curator_user)
    page.goto(f"{live_server.url}/admin/similar/{heat.pk}/?blend=vector&model={MODEL}&k=5")
    assert _titles(page, MODEL) == ["Thief", "Ronin", "Collateral", "Drive", "Up"]

    page.locator(f'tr[data-item="{films["Ronin"].pk}"] button[value=bad]').click()
    page.locator("#curate-done", has_text="Ronin (1981) judged bad").wait_for()
    page.locator(f'tr[data-item="{drive.pk}"] button[value=good]').click()
    page.locator("#curate-done", has_text="Drive (1983) judged good").wait_for()
    collateral = page.locator(f'tr[data-item="{films["Collateral"].pk}"]')
    collateral.locator("input.rank").fill("1")
    collateral.locator("button[value=pin]").click()
    page.locator("#curate-done", has_text="pinned at rank 1").wait_for()
    assert _titles(page, MODEL) == ["Collateral", "Thief", "Ronin", "Drive", "Up"]

    staff = browser_login(staff_user)
    staff.goto(f"{live_server.url}{reverse('embeddings:storage')}")
    cell = staff.locator(f'td.quality [data-quality="{MODEL}"]')
    assert "not measured yet" in cell.inner_text()
    cell.locator("button", has_text="Measure").click()
    staff.locator(f'[data-quality="{MODEL}"] .reclio-badge', has_text="measuring…").wait_for()

    spawn("qcluster")
    wait_for(
        lambda: QualityRun.objects.filter(model_key=MODEL, status="done").exists(),
        timeout=120, what="the measurement",
    )  # fmt: skip
    staff.reload()
    cell = staff.locator(f'td.quality [data-quality="{MODEL}"]')
    headline = " ".join(cell.locator("summary.quality-headline").inner_text().split())
    assert re.search(
        r"judged hybrid [\d.]+ · vector 1\.000 \d{4}-\d\d-\d\d, on \d+ items$", headline
    )
    cell.locator("summary.quality-headline").click()
    assert cell.locator('.quality-judged-score[data-blend="vector"]').inner_text() == (
        "judged: recall@10 1.000, nDCG@10 0.431 (1 film)"
    )
