"""The README's screenshots: taken from the live pages on the demo catalog, with the local
model's real vectors and a job running; and the README links only pictures that exist."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import User
from django.core.management import call_command

from tests.docs import showcase
from tests.docs.screenshots import WIDTH, shots, take
from tests.fakes._server import FAST_NETWORK

README = Path(django_settings.BASE_DIR) / "README.md"
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def served_minilm(settings: Any) -> Iterator[showcase.ServedMiniLM]:
    server = showcase.ServedMiniLM().start()
    settings.OPENAI_BASE_URL = server.base_url
    settings.OPENAI_API_KEY = server.api_key
    for name, value in FAST_NETWORK.items():
        setattr(settings, name, value)
    # It runs the model on this machine's CPU, beside the test: give it a real API's patience.
    settings.EMBEDDING_TIMEOUT = 120.0
    yield server
    server.stop()


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == PNG, f"{path} is not a PNG"
    return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_screenshots_are_taken_from_the_live_pages(
    browser_login: Any,
    live_server: Any,
    superuser: User,
    served_minilm: showcase.ServedMiniLM,
    tmp_path: Path,
) -> None:
    out = Path(os.environ.get("SCREENSHOTS_DIR") or tmp_path)
    shown = showcase.prepare()
    showcase.embed_with(showcase.SERVED)
    showcase.measure_quality(showcase.SERVED)
    call_command("count_tokens", stdout=open(os.devnull, "w"))  # noqa: SIM115
    served_minilm.fail_forever("slow:1")  # the job below crawls, as a remote API can

    with showcase.running_job(until=0.3):
        page = browser_login(superuser)
        # The jobs page waits for the running job's row: its picture shows it mid-way.
        taken = take(page, live_server.url, shots(shown.item.pk, showcase.SERVED), out)

    assert [p.name for p in taken] == [s.name for s in shots(0, "")]
    for path in taken:
        width, height = png_size(path)
        assert width == WIDTH and 400 < height <= 1500, (path.name, width, height)


def test_the_readme_shows_each_screenshot_and_links_only_files_that_exist() -> None:
    linked = re.findall(r"!\[[^\]]+\]\(([^)\s]+)\)", README.read_text())
    assert sorted(Path(link).name for link in linked) == sorted(s.name for s in shots(0, ""))
    for link in linked:
        path = README.parent / link
        assert path.is_file(), f"README links {link}, which does not exist"
        assert png_size(path)[0] == WIDTH
