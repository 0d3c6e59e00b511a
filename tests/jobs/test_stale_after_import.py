"""After an import rewrites five synopses, the product says so everywhere it matters: the admin
index counts five stale items and brings them up to date with one button, the jobs page's
default mode embeds exactly those five again, and the similar page marks them stale."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from catalog.importer import import_catalog
from catalog.models import CatalogItem
from embeddings import jobs
from embeddings.models import EmbeddingJob, EmbeddingSettings
from embeddings.text import item_text
from tests.conftest import make_item

pytestmark = pytest.mark.django_db
SMALL = "openai:text-embedding-3-small@768"


@pytest.fixture
def rewritten(fake_openai, tmp_path: Path) -> list[CatalogItem]:
    """Eight films with current vectors of the active model; then an import rewrites the
    synopses of the first five (and only the popularity of two others). Returns the films."""
    EmbeddingSettings.objects.update_or_create(pk=1, defaults={"active_model_key": SMALL})
    films = [
        make_item(tmdb_id=n, title=f"Film {n}", overview=f"Written by hand {n}.")
        for n in range(1, 9)
    ]
    jobs.run_job(jobs.create_job("movie", SMALL).pk)
    rows = [{"tmdb_id": f.tmdb_id, "title": f.title, "overview": f.overview} for f in films]
    for row in rows[:5]:
        row["overview"] = f"From TMDb: {row['title']}."
    for row in rows[5:7]:
        row["popularity"] = 9.5
    path = tmp_path / "films.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    import_catalog(path)
    fake_openai.requests.clear()
    return films


def _summary(client: Client) -> str:
    page = client.get(reverse("admin:index")).content.decode()
    found = re.search(r'<tr id="backlog">(.*?)</tr>', page, re.S)
    assert found, "no backlog row on the admin index"
    return found.group(1)


def test_the_admin_index_counts_the_five_stale_items_and_one_button_embeds_them(
    rewritten: list[CatalogItem], staff_client: Client, curator_client: Client, fake_openai
) -> None:
    summary = _summary(staff_client)
    assert "0 items missing" in summary and "5 stale" in summary
    assert "Bring up to date</button>" in summary
    assert "Bring up to date" not in _summary(curator_client)  # curators look

    response = staff_client.post(reverse("embeddings:bring_up_to_date"))

    assert response.status_code == 302 and response["Location"] == reverse("embeddings:jobs")
    job = EmbeddingJob.objects.get(status=EmbeddingJob.Status.QUEUED)
    assert (job.model_key, job.mode) == (SMALL, EmbeddingJob.Mode.STALE)
    jobs.run_job(job.pk)
    assert sorted(fake_openai.inputs) == sorted(item_text(f) for f in _fresh(rewritten[:5]))
    assert "every item has a vector of its current text" in _summary(staff_client)


def test_the_button_is_a_post_for_staff(rewritten: list[CatalogItem], role_clients) -> None:
    url = reverse("embeddings:bring_up_to_date")

    assert role_clients["staff"].get(url).status_code == 405
    assert role_clients["curator"].post(url).status_code == 403
    assert role_clients["outsider"].post(url).status_code == 403
    assert not EmbeddingJob.objects.filter(status=EmbeddingJob.Status.QUEUED).exists()


def test_the_jobs_pages_default_mode_embeds_exactly_the_five_changed_texts_again(
    rewritten: list[CatalogItem], staff_client: Client, fake_openai
) -> None:
    page = staff_client.get(reverse("embeddings:jobs")).content.decode()
    assert '<option value="stale" selected>Missing or changed</option>' in page

    staff_client.post(reverse("embeddings:job_start"), {"kind": "movie"})

    job = EmbeddingJob.objects.get(status=EmbeddingJob.Status.QUEUED)
    assert jobs.run_job(job.pk) == EmbeddingJob.Status.COMPLETED
    job.refresh_from_db()
    assert (job.done, job.skipped) == (5, 3)
    assert sorted(fake_openai.inputs) == sorted(item_text(f) for f in _fresh(rewritten[:5]))


def test_the_similar_page_marks_the_five_stale_and_the_rest_current(
    rewritten: list[CatalogItem], curator_client: Client
) -> None:
    for n, film in enumerate(rewritten):
        page = curator_client.get(reverse("embeddings:similar", args=[film.pk])).content.decode()
        data = curator_client.get(
            reverse("embeddings:similar", args=[film.pk]), HTTP_ACCEPT="application/json"
        ).json()
        if n < 5:
            assert 'data-state="stale"' in page and "The item's text now" in page
            assert "The exact text that was embedded" not in page
            assert (data["has_vector"], data["vector_current"]) == (True, False)
        else:
            assert 'data-state="current"' in page and "The exact text that was embedded" in page
            assert (data["has_vector"], data["vector_current"]) == (True, True)


def test_an_item_without_a_vector_says_so_on_the_page_and_in_json(
    rewritten: list[CatalogItem], curator_client: Client
) -> None:
    newcomer = make_item(title="Zzyzx", overview="Qwerty.")
    url = reverse("embeddings:similar", args=[newcomer.pk])

    nothing_passes = {"year_min": 2100}
    page = curator_client.get(url, nothing_passes).content.decode()
    data = curator_client.get(url, nothing_passes, HTTP_ACCEPT="application/json").json()

    assert 'data-state="none"' in page
    assert f"This item has no vector for {SMALL} yet" in page
    assert "The exact text that was embedded" not in page
    assert "No neighbours pass these filters" not in page
    assert (data["has_vector"], data["vector_current"], data["neighbours"]) == (False, None, [])


def _fresh(items: list[CatalogItem]) -> list[CatalogItem]:
    return list(CatalogItem.objects.filter(pk__in=[i.pk for i in items]))
