"""The README's pictures, taken in Chromium from the real pages.

`make screenshots` writes them into docs/ (SCREENSHOTS_DIR); in the test suite they go to a
temporary folder, so the script keeps working without touching the tree.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

WIDTH = 1280
MAX_HEIGHT = 1500  # a long page is cut here; the README shows its top


@dataclass(frozen=True)
class Shot:
    name: str  # the file under docs/
    url: str
    ready: str  # a selector that shows the page has what the picture is about


def shots(item_id: int, compare_key: str) -> list[Shot]:
    return [
        Shot("jobs.png", "/admin/jobs/", ".job-row[data-status=running] .reclio-progress"),
        Shot("embedding-model.png", "/admin/settings/embedding-model/", "#models"),
        Shot(
            "similar-compare.png",
            f"/admin/similar/{item_id}/?compare={quote(compare_key)}",
            f'section[data-model="{compare_key}"] a.neighbour-link',
        ),
        Shot("storage.png", "/admin/storage/", "#tables"),
    ]


def take(page: Any, base_url: str, wanted: list[Shot], out: Path) -> list[Path]:
    """Open each page at a laptop's width and save its picture as `out/<name>`."""
    out.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": WIDTH, "height": 900})
    taken = []
    for shot in wanted:
        response = page.goto(base_url + shot.url)
        assert response is not None and response.status == 200, (shot.url, response)
        page.locator(shot.ready).first.wait_for()
        height = min(page.evaluate("document.documentElement.scrollHeight"), MAX_HEIGHT)
        path = out / shot.name
        page.screenshot(
            path=str(path), full_page=True, clip={"x": 0, "y": 0, "width": WIDTH, "height": height}
        )
        taken.append(path)
    return taken
