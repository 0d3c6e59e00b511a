"""In Chromium: a staff member starts a job from the page and watches its bar fill."""

from __future__ import annotations

import pytest

from embeddings.models import EmbeddingJob
from tests.conftest import make_item
from tests.jobs.conftest import LOCAL_MODEL

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_a_job_started_from_the_page_fills_its_bar_to_100_percent_and_stops_polling(
    browser_login, staff_user, spawn
) -> None:
    for i in range(12):
        make_item(title=f"Film {i}", overview=f"Story {i}: two rival bakers share one oven.")
    spawn("qcluster")
    page = browser_login(staff_user)

    page.goto(page.url + "jobs/")
    page.select_option("select[name=kind]", "movie")
    page.select_option("select[name=model_key]", LOCAL_MODEL)
    page.fill("input[name=batch_size]", "2")
    page.click("text=Start job")

    job = EmbeddingJob.objects.get()
    row = page.locator(f"#job-{job.pk}")
    assert row.get_attribute("hx-trigger") == "every 1s"
    # The worker loads the model first; the row refreshes itself, no reload.
    row.locator(".job-percent", has_text="100 %").wait_for(timeout=120_000)
    page.locator(f"#job-{job.pk}[data-status=completed]").wait_for(timeout=10_000)
    assert "12 done / 0 skipped / 0 failed of 12" in row.inner_text()
    assert "Completed" in row.inner_text()
    assert row.locator(".reclio-progress > span").get_attribute("style") == "width: 100.0%"
    assert row.get_attribute("hx-trigger") is None
    assert row.get_attribute("hx-get") is None
