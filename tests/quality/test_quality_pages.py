"""The quality panel on the settings and storage pages, the compare mode's agreement numbers and
the disagreement list: what each role sees and may do."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_q.models import OrmQ

from catalog.models import CatalogItem
from embeddings import quality
from embeddings.models import DisagreementRun, Embedding384, QualityRun
from embeddings.quality.judged import Judged
from tests.quality.conftest import NEW, OLD, place

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_graphs")]

MEASURE = reverse("embeddings:quality_measure")
LIST = reverse("embeddings:disagreements")
COMPUTE = reverse("embeddings:disagreements_compute")


@pytest.fixture
def two_models(franchise_films: dict[str, CatalogItem]) -> dict[str, CatalogItem]:
    place(franchise_films, OLD, good=True)
    place(franchise_films, NEW, good=False)
    return franchise_films


def test_the_settings_and_storage_pages_show_each_models_measured_quality(
    two_models: dict[str, CatalogItem], role_clients: dict[str, Client]
) -> None:
    quality.measure(OLD)

    for url in (reverse("embeddings:embedding_model"), reverse("embeddings:storage")):
        page = role_clients["curator"].get(url).content.decode()
        assert f'data-quality="{OLD}"' in page
        assert "recall@10 <strong>1.000</strong>, hit@10 1.000" in page
        assert "index recall@10 1.000" in page
        assert "Measure again" not in page  # curators look, they do not measure
    storage = role_clients["staff"].get(reverse("embeddings:storage")).content.decode()
    assert f'data-quality="{NEW}"' in storage and "not measured yet" in storage
    assert "Measure again" in storage and ">Measure</button>" in storage


def test_the_headline_shows_vectors_alone_beside_the_blend_and_the_judged_scores(
    two_models: dict[str, CatalogItem], role_clients: dict[str, Client]
) -> None:
    """NEW's poor layout: hybrid finds Beta's siblings through their shared title word (0.800),
    vectors alone do not (0.600). Alpha 1's one judged film, Beta 1, is its third neighbour."""
    alpha, beta = two_models["alpha-1"], two_models["beta-1"]
    quality.measure(NEW, judgments=[Judged(alpha.tmdb_id, beta.tmdb_id, 2)])

    page = role_clients["curator"].get(reverse("embeddings:storage")).content.decode()
    headline = re.search(
        rf'data-quality="{re.escape(NEW)}".*?<summary class="quality-headline">(.*?)</summary>',
        page,
        re.DOTALL,
    )
    assert headline, "no headline for the measured model"
    text = " ".join(re.sub(r"<[^>]+>", "", headline.group(1)).split())
    assert text.startswith("hybrid 0.800 · vector 0.600 judged hybrid ")
    assert text.endswith(f" · vector 1.000 {timezone.localdate():%Y-%m-%d}, on 16 items")
    assert "judged: recall@10 <strong>1.000</strong>, nDCG@10 0.500 (1 film)" in page


def test_staff_measure_a_stored_model_in_the_background(
    two_models: dict[str, CatalogItem], role_clients: dict[str, Client]
) -> None:
    response = role_clients["staff"].post(MEASURE, {"model": NEW, "back": "storage"})

    assert response.status_code == 302 and response["Location"] == reverse("embeddings:storage")
    assert QualityRun.objects.get().model_key == NEW
    assert OrmQ.objects.count() == 1
    page = role_clients["staff"].get(reverse("embeddings:storage")).content.decode()
    assert "measuring…" in page


def test_measuring_needs_run_jobs_a_post_and_a_stored_model(
    two_models: dict[str, CatalogItem], role_clients: dict[str, Client]
) -> None:
    assert role_clients["anonymous"].post(MEASURE, {"model": OLD}).status_code == 302
    assert role_clients["outsider"].post(MEASURE, {"model": OLD}).status_code == 403
    assert role_clients["curator"].post(MEASURE, {"model": OLD}).status_code == 403
    assert role_clients["admin"].get(MEASURE, {"model": OLD}).status_code == 405
    response = role_clients["admin"].post(MEASURE, {"model": "../etc/passwd"}, follow=True)
    assert "No vectors are stored for the model &#x27;../etc/passwd&#x27;" in (
        response.content.decode()
    )
    assert not QualityRun.objects.exists()


def test_a_measurement_that_failed_says_why(role_clients: dict[str, Client]) -> None:
    quality.measure(OLD)  # nothing stored

    page = role_clients["curator"].get(reverse("embeddings:embedding_model")).content.decode()
    assert f"not measured: no vectors are stored for {OLD}" in page


def test_compare_mode_shows_overlap_and_rank_biased_overlap_and_links_the_list(
    two_models: dict[str, CatalogItem], role_clients: dict[str, Client]
) -> None:
    beta = two_models["beta-1"]
    url = reverse("embeddings:similar", args=[beta.pk])

    query = {"model": OLD, "compare": NEW, "blend": "vector"}
    page = role_clients["curator"].get(url, query).content.decode()

    # Beta 1's top 10: Beta 2, the Alphas and the first strangers in the good layout; ten
    # strangers in the poor one. The lists share some strangers, not all.
    left = quality.page_top_ids(Embedding384, OLD, "vector", beta.pk, "movie")
    right = quality.page_top_ids(Embedding384, NEW, "vector", beta.pk, "movie")
    expected = quality.agreement(left, right)
    assert 0 < expected.overlap_at_10 < 1
    assert f"overlap@10 <strong>{expected.overlap_at_10:.2f}</strong>" in page
    assert f"rank-biased overlap <strong>{expected.rbo:.3f}</strong>" in page
    assert f'href="{LIST}?{urlencode({"model": OLD, "compare": NEW})}'.replace("&", "&amp;") in page


def test_compare_mode_under_a_blend_with_words_shows_the_vectors_overlap_as_well(
    two_models: dict[str, CatalogItem], role_clients: dict[str, Client]
) -> None:
    beta = two_models["beta-1"]
    url = reverse("embeddings:similar", args=[beta.pk])

    lexical = role_clients["curator"].get(url, {"model": OLD, "compare": NEW, "blend": "lexical"})
    vector = role_clients["curator"].get(url, {"model": OLD, "compare": NEW, "blend": "vector"})

    # The words are the same for both models: their lexical lists agree entirely, their vectors
    # do not.
    left = quality.page_top_ids(Embedding384, OLD, "vector", beta.pk, "movie")
    right = quality.page_top_ids(Embedding384, NEW, "vector", beta.pk, "movie")
    alone = quality.agreement(left, right)
    page = lexical.content.decode()
    assert "overlap@10 <strong>1.00</strong>" in page
    found = re.search(r'<span id="vector-agreement">(.*?)</span>', page, re.DOTALL)
    assert found, "no vector-only agreement under the lexical blend"
    assert f"overlap@10 <strong>{alone.overlap_at_10:.2f}</strong>" in found.group(1)
    assert f"rank-biased overlap <strong>{alone.rbo:.3f}</strong>" in found.group(1)
    assert 'id="vector-agreement"' not in vector.content.decode()


def test_the_disagreement_list_ranks_items_by_lowest_overlap_and_links_their_compare_view(
    two_models: dict[str, CatalogItem], role_clients: dict[str, Client]
) -> None:
    curator = role_clients["curator"]
    query = {"model": OLD, "compare": NEW}
    assert "Not computed yet" in curator.get(LIST, query).content.decode()

    response = curator.post(COMPUTE, query)
    assert response.status_code == 302
    run = DisagreementRun.objects.get()
    assert OrmQ.objects.count() == 1
    computing = curator.get(LIST, query).content.decode()
    assert "computing…" in computing
    assert "Not computed yet" not in computing  # one state at a time
    quality.compute_disagreements(run.pk)

    page = curator.get(LIST, query).content.decode()
    run.refresh_from_db()
    assert run.items == 16 and "Compared 16 items" in page
    rows = list(run.rows.order_by("overlap", "rbo", "item_id"))
    assert rows[0].overlap <= rows[-1].overlap
    # Alpha's films keep their siblings in both layouts; the lowest overlap is not theirs.
    alpha = {two_models[f"alpha-{i}"].pk for i in (1, 2, 3)}
    assert rows[0].item_id not in alpha
    first = rows[0].item
    link = reverse("embeddings:similar", args=[first.pk]) + "?" + urlencode(query)
    link += "&blend=vector"
    assert f'href="{link.replace("&", "&amp;")}"' in page
    assert page.index(f'data-item="{rows[0].item_id}"') < page.index(
        f'data-item="{rows[-1].item_id}"'
    )
    # The same numbers as the compare view of that item.
    left = quality.page_top_ids(Embedding384, OLD, "vector", first.pk, first.kind)
    right = quality.page_top_ids(Embedding384, NEW, "vector", first.pk, first.kind)
    assert rows[0].overlap == quality.agreement(left, right).overlap_at_10


def test_the_disagreement_list_shows_how_far_it_has_got_and_stops_polling_when_done(
    two_models: dict[str, CatalogItem], role_clients: dict[str, Client]
) -> None:
    curator = role_clients["curator"]
    query = {"model": OLD, "compare": NEW}
    curator.post(COMPUTE, query)
    run = DisagreementRun.objects.get()
    page = curator.get(LIST, query).content.decode()
    assert 'hx-trigger="every 2s"' in page and "computing…" in page

    # A worker has stored a first chunk: htmx gets the list's part of the page, still polling.
    DisagreementRun.objects.filter(pk=run.pk).update(status="running", items=1200)
    part = curator.get(LIST, query, HTTP_HX_REQUEST="true").content.decode()
    assert part.lstrip().startswith('<div id="disagreement-results"') and "<html" not in part
    assert "1,200 items compared so far" in part and 'hx-trigger="every 2s"' in part

    DisagreementRun.objects.filter(pk=run.pk).update(status="queued", items=0)
    quality.compute_disagreements(run.pk)
    part = curator.get(LIST, query, HTTP_HX_REQUEST="true").content.decode()
    assert "hx-trigger" not in part and "computing…" not in part
    assert "Compared 16 items" in part and 'id="disagreements"' in part


def test_the_disagreement_list_refuses_unknown_or_equal_models(
    two_models: dict[str, CatalogItem], role_clients: dict[str, Client]
) -> None:
    curator = role_clients["curator"]
    response = curator.get(LIST, {"model": OLD, "compare": "nope:model"})
    assert response.status_code == 400
    assert "No vectors are stored for &#x27;nope:model&#x27;." in response.content.decode()
    response = curator.get(LIST, {"model": OLD, "compare": OLD})
    assert (
        response.status_code == 400 and "Choose two different models." in response.content.decode()
    )
    response = curator.post(COMPUTE, {"model": OLD, "compare": "nope:model"}, follow=True)
    assert "Nothing computed" in response.content.decode()
    assert not DisagreementRun.objects.exists()


@pytest.mark.parametrize(("role", "status"), [("anonymous", 302), ("outsider", 403)])
def test_the_disagreement_list_is_for_roles_that_see_neighbours(
    two_models: dict[str, CatalogItem], role_clients: dict[str, Client], role: str, status: int
) -> None:
    query = {"model": OLD, "compare": NEW}
    assert role_clients[role].get(LIST, query).status_code == status
    assert role_clients[role].post(COMPUTE, query).status_code == status
    assert role_clients["curator"].get(COMPUTE, query).status_code == 405
    assert not DisagreementRun.objects.exists()
