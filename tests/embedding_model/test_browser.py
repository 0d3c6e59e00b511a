"""In Chromium: an admin switches the model, sees the cost, confirms, watches the new set fill
and the cut-over happen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User

from embeddings.models import Embedding384, EmbeddingJob, EmbeddingSettings, TokenCount
from embeddings.providers import get_provider
from embeddings.tasks import run_job
from tests.conftest import make_item

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LOCAL = "local:all-MiniLM-L6-v2"
SMALL = "openai:text-embedding-3-small"


def test_an_admin_switches_the_model_and_watches_the_new_set_take_over(
    browser_login: Any, admin_user: User, fake_openai: Any, tmp_path: Path
) -> None:
    items = [
        make_item(title="Heat"),
        make_item(title="Ronin"),
        make_item(title="Dark", kind="series"),
    ]
    tokenizer = get_provider(SMALL).tokenizer_key
    for item in items:
        Embedding384.objects.create(
            item=item, model_key=LOCAL, source_hash="x", embedding=[1.0] + [0.0] * 383
        )
        TokenCount.objects.create(item=item, tokenizer=tokenizer, source_hash="x", tokens=500)
    config = EmbeddingSettings.load()
    config.active_model_key = LOCAL
    config.save()

    page = browser_login(admin_user)
    page.click("text=AI / LLM → Embedding Model")
    row = page.locator(f'tr[data-model="{SMALL}"]')
    # 500 tokens an item: 10,000 items are 5,000,000 tokens, $0.10 at $0.02 a million.
    row.locator("summary", has_text="other sizes").click()
    assert "10,000 items: $0.10" in row.inner_text()
    page.screenshot(path=str(tmp_path / "embedding-model.png"), full_page=True)

    row.get_by_role("button", name="Choose…").click()
    assert "Every item of the catalog must be embedded again" in page.inner_text("#content")
    assert "1,500" in page.inner_text("#impact")  # tokens of the whole catalog
    page.get_by_role("button", name=f"Confirm: embed the catalog with {SMALL}").click()

    page.wait_for_selector(f"text=Building {SMALL}: 2 jobs started.")
    assert page.inner_text("#building-coverage") == "0 of 3 items (0%)"
    assert LOCAL in page.inner_text("#switch-status")

    # Play the worker: the movies first, and the page's poll shows the set filling.
    run_job(EmbeddingJob.objects.get(kind="movie", model_key=SMALL).pk)
    page.wait_for_selector("text=2 of 3 items (67%)")
    assert EmbeddingSettings.load().active_model_key == LOCAL

    run_job(EmbeddingJob.objects.get(kind="series", model_key=SMALL).pk)
    page.wait_for_selector("text=Previous model:")
    status = page.inner_text("#switch-status")
    assert f"Active model: {SMALL}" in status
    assert "Being built" not in status
    page.screenshot(path=str(tmp_path / "after-cut-over.png"), full_page=True)
    print(f"screenshots in {tmp_path}")
