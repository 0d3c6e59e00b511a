"""Every dashboard page fits a 1,280 px wide window without scrolling sideways, with the demo
catalog, real vectors and a job running."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from django.contrib.auth.models import User

from tests.docs import showcase
from tests.fakes.openai_server import FakeOpenAI

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def pages(item_id: int) -> dict[str, str]:
    return {
        "admin index": "/admin/",
        "catalog list": "/admin/catalog/catalogitem/",
        "embedding model": "/admin/settings/embedding-model/",
        "switch confirmation": f"/admin/settings/embedding-model/choose/?model={quote(showcase.BUILDING)}",
        "jobs": "/admin/jobs/",
        "storage": "/admin/storage/",
        "storage delete": f"/admin/storage/delete/?model={quote(showcase.BUILDING)}",
        "similar": f"/admin/similar/{item_id}/",
        "similar compare": f"/admin/similar/{item_id}/?compare={quote(showcase.BUILDING)}",
    }


def widths(page: Any, base_url: str, urls: dict[str, str], viewport: int) -> dict[str, int]:
    page.set_viewport_size({"width": viewport, "height": 900})
    found = {}
    for name, url in urls.items():
        response = page.goto(base_url + url)
        assert response.status == 200, (name, response.status)
        found[name] = page.evaluate("document.documentElement.scrollWidth")
        if viewport >= 1280:
            # A wide table may scroll in its own box on a narrow window, never on a laptop's.
            boxes = page.evaluate(
                "Array.from(document.querySelectorAll('.reclio-scroll'), b => b.scrollWidth - b.clientWidth)"
            )
            found[name] = max([found[name], *(viewport + extra for extra in boxes)])
    return found


@pytest.mark.django_db(transaction=True)
def test_every_page_fits_a_1280_px_window_and_reads_on_a_900_px_one(
    browser_login: Any, live_server: Any, admin_user: User, fake_openai: FakeOpenAI
) -> None:
    shown = showcase.prepare(real_vectors=False)
    fake_openai.fail_forever("slow:0.5")
    with showcase.running_job():
        page = browser_login(admin_user)
        wide = widths(page, live_server.url, pages(shown.item.pk), 1280)
        narrow = widths(page, live_server.url, pages(shown.item.pk), 900)
    print("\nscrollWidth at 1280:", wide, "\nscrollWidth at 900:", narrow)
    assert {name: w for name, w in wide.items() if w > 1280} == {}
    assert {name: w for name, w in narrow.items() if w > 900} == {}
