"""Every action a page offers lies inside a 1,280 x 800 and a 900 x 800 window without scrolling
sideways, disclosures open or not; no title breaks inside a word; the site's icon is there.

Set LAYOUT_SCREENSHOTS to a folder to keep a picture of each page at each width."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from django.contrib.auth.models import User

from catalog.models import CatalogItem
from embeddings.models import Embedding384
from embeddings.neighbours import lexical_rows
from embeddings.text import item_text, source_hash
from tests.docs import showcase
from tests.fakes._server import fake_vector
from tests.fakes.openai_server import FakeOpenAI

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WINDOWS = [(1280, 800), (900, 800)]
# A model stored beside the active one and the one being built: the one storage may delete.
SPARE = showcase.SERVED

# What lies outside the window, or past the edge of a box that clips or scrolls it (a table
# scrolled inside its own box hides its last column just the same), as (text, right edge)
# pairs; and how wide the page scrolls.
OUTSIDE = """(selector) => {
  const edge = (el) => {
    let right = window.innerWidth;
    for (let box = el.parentElement; box; box = box.parentElement) {
      if (getComputedStyle(box).overflowX !== "visible") {
        right = Math.min(right, box.getBoundingClientRect().right);
      }
    }
    return right;
  };
  const shown = Array.from(document.querySelectorAll(selector))
    .filter(el => el.getClientRects().length > 0);
  return {
    outside: shown
      .map(el => [el.textContent.trim(), Math.round(el.getBoundingClientRect().right), Math.round(edge(el))])
      .filter(([, right, limit]) => right > limit),
    found: shown.length,
    scrollWidth: document.documentElement.scrollWidth,
  };
}"""

# Words (letters, digits and apostrophes only) laid out on more than one line: a word broken
# inside itself. Breaks at a hyphen or a slash are allowed; those words are not looked at.
BROKEN_WORDS = r"""(selector) => {
  const broken = [];
  for (const root of document.querySelectorAll(selector)) {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (const match of node.textContent.matchAll(/[\p{L}\p{N}'\u2019]+/gu)) {
        const range = document.createRange();
        range.setStart(node, match.index);
        range.setEnd(node, match.index + match[0].length);
        const lines = new Set(Array.from(range.getClientRects(), r => Math.round(r.top)));
        if (lines.size > 1) broken.push(match[0]);
      }
    }
  }
  return broken;
}"""


@pytest.fixture
def shown(fake_openai: FakeOpenAI) -> Iterator[showcase.Showcase]:
    """The demo catalog with the local model active (measured), a second model being built by a
    running job, a third model's vectors for part of the catalog, and the words weighed, so the
    similar page says why each neighbour is there."""
    scene = showcase.prepare(real_vectors=False)
    Embedding384.objects.bulk_create(
        Embedding384(item=item, model_key=SPARE, source_hash=source_hash(text),
                     embedding=fake_vector(f"spare {text}", 384))
        for item in CatalogItem.objects.order_by("id")[:200] if (text := item_text(item))
    )  # fmt: skip
    showcase.measure_quality(SPARE)
    lexical_rows.refresh()
    fake_openai.fail_forever("slow:0.5")
    with showcase.running_job():
        yield scene


def _look(page: Any, base_url: str, url: str) -> None:
    response = page.goto(base_url + url)
    assert response.status == 200, (url, response.status)


def _keep_picture(page: Any, name: str, width: int) -> None:
    folder = os.environ.get("LAYOUT_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=f"{folder}/{name}-{width}.png", full_page=True)


def _open_every_disclosure(page: Any) -> None:
    page.evaluate("document.querySelectorAll('#content details').forEach(d => { d.open = true })")


@pytest.mark.django_db(transaction=True)
def test_choose_similar_and_delete_lie_inside_the_window_at_1280_and_900_px(
    browser_login: Any, live_server: Any, admin_user: User, shown: showcase.Showcase
) -> None:
    page = browser_login(admin_user)
    misplaced: dict[str, Any] = {}
    for width, height in WINDOWS:
        page.set_viewport_size({"width": width, "height": height})
        checks = [
            ("settings", "/admin/settings/embedding-model/", "#models button", False),
            ("settings, disclosures open", "/admin/settings/embedding-model/", "#models button", True),
            ("catalog", "/admin/catalog/catalogitem/", "#result_list a[href*='/similar/']", False),
            ("storage", "/admin/storage/", "#models a.deletelink", False),
            ("storage, disclosures open", "/admin/storage/", "#models a.deletelink", True),
        ]  # fmt: skip
        for name, url, selector, open_all in checks:
            _look(page, live_server.url, url)
            if open_all:
                _open_every_disclosure(page)
            _keep_picture(page, name.replace(", ", "-").replace(" ", "-"), width)
            found = page.evaluate(OUTSIDE, selector)
            assert found["found"], f"{name}: nothing matches {selector}"
            if found["outside"] or found["scrollWidth"] > width:
                misplaced[f"{name} at {width}"] = found

    print(misplaced)
    assert misplaced == {}


@pytest.mark.django_db(transaction=True)
def test_no_title_or_label_breaks_inside_a_word_at_1280_or_900_px(
    browser_login: Any, live_server: Any, admin_user: User, shown: showcase.Showcase
) -> None:
    item = shown.item.pk
    free_text = urlencode({"q": "a boy and his robot in space", "blend": "lexical"})
    pages = {
        "settings": "/admin/settings/embedding-model/",
        "jobs": "/admin/jobs/",
        "storage": "/admin/storage/",
        "catalog": "/admin/catalog/catalogitem/",
        "similar": f"/admin/similar/{item}/",
        "similar-compare": f"/admin/similar/{item}/?compare={quote(SPARE)}&blend=hybrid",
        "similar-free-text": f"/admin/similar/{item}/?{free_text}",
    }
    page = browser_login(admin_user)
    broken: dict[str, list[str]] = {}
    for width, height in WINDOWS:
        page.set_viewport_size({"width": width, "height": height})
        for name, url in pages.items():
            _look(page, live_server.url, url)
            _open_every_disclosure(page)
            _keep_picture(page, f"{name}-open", width)
            words = page.evaluate(
                BROKEN_WORDS, "#content td, #content th, #content h1, #content h2"
            )
            if words:
                broken[f"{name} at {width}"] = words
            assert page.evaluate("document.documentElement.scrollWidth") <= width, (name, width)

    assert broken == {}


@pytest.mark.django_db(transaction=True)
def test_every_page_names_an_icon_that_answers(
    browser_login: Any, live_server: Any, curator_user: User
) -> None:
    page = browser_login(curator_user)
    icons = []
    for url in ("/admin/", "/admin/jobs/", "/admin/storage/", "/admin/settings/embedding-model/"):
        page.goto(live_server.url + url)
        href = page.evaluate("document.querySelector('link[rel=icon]').href")
        icons.append(page.request.get(href).status)
    old_style = page.request.get(live_server.url + "/favicon.ico")

    assert icons == [200, 200, 200, 200]
    assert old_style.status == 200
    assert old_style.headers["content-type"] == "image/svg+xml"
