"""`bench_similar` on every dimension table: it prints its numbers and leaves each table with
its HNSW index (a failed load used to leave the 1536 table without one); under the hybrid blend
it times the neighbours the page serves, curators' pins and hides applied."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from catalog.models import CatalogItem
from embeddings.models import EMBEDDING_TABLES, Curation, Embedding384, has_hnsw_index
from embeddings.storage import estimated_rows
from embeddings.workbench.management.commands.bench_similar import MODEL_KEY

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

KEYS = {
    "items", "dims", "distribution", "blend", "curated", "prior_weight", "query_p50_ms", "query_p95_ms",
    "page_p50_ms", "page_p95_ms", "recall_at_10", "load_s", "index_build_s", "lexical_build_s",
}  # fmt: skip


@pytest.mark.parametrize("dims", sorted(EMBEDDING_TABLES))
def test_bench_similar_measures_a_small_set_and_leaves_the_table_indexed(dims: int) -> None:
    out = StringIO()

    call_command(
        "bench_similar", items=200, dims=dims, queries=20, pages=5, recall_queries=5,
        json=True, stdout=out,
    )  # fmt: skip

    result = json.loads(out.getvalue())
    assert (result["items"], result["dims"]) == (200, dims)
    assert result["query_p50_ms"] > 0 and result["page_p50_ms"] > 0
    assert result["recall_at_10"] >= 0.9  # 200 vectors: the walk sees nearly all of them
    assert has_hnsw_index(EMBEDDING_TABLES[dims])
    assert not EMBEDDING_TABLES[dims].objects.exists()  # the synthetic set is cleaned up
    assert not Curation.objects.exists()
    # and the planner's row count, which the storage page shows for big tables, says so too
    assert estimated_rows(EMBEDDING_TABLES[dims]._meta.db_table) == 0


def test_bench_similar_times_the_hybrid_page_with_pins_and_hides_applied(
    admin_client_: Client,
) -> None:
    out = StringIO()

    call_command(
        "bench_similar", items=300, blend="hybrid", curated=2, queries=20, pages=5,
        recall_queries=5, keep=True, json=True, stdout=out,
    )  # fmt: skip

    result = json.loads(out.getvalue())
    assert set(result) == KEYS
    assert (result["items"], result["blend"], result["curated"]) == (300, "hybrid", 2)
    assert result["query_p95_ms"] >= result["query_p50_ms"] > 0
    assert result["page_p95_ms"] >= result["page_p50_ms"] > 0
    # Each timed item was given two pins and two hides; its page serves them (kept: --keep).
    assert Curation.objects.filter(action="pin").count() == 40
    assert Curation.objects.filter(action="hide").count() == 40
    query = Curation.objects.order_by("id").first()
    assert query is not None
    item = CatalogItem.objects.get(kind="movie", tmdb_id=query.query_tmdb_id)
    rows = Curation.objects.about(item)
    pinned = dict(rows.filter(action="pin").values_list("neighbour_tmdb_id", "rank"))
    hidden = set(rows.filter(action="hide").values_list("neighbour_tmdb_id", flat=True))
    body = admin_client_.get(
        reverse("embeddings:similar", args=[item.pk]),
        {"format": "json", "model": MODEL_KEY, "blend": "hybrid"},
    ).json()
    shown = [n["tmdb_id"] for n in body["neighbours"]]
    assert sorted(pinned.values()) == [1, 3]
    assert {tmdb_id: shown.index(tmdb_id) + 1 for tmdb_id in pinned} == pinned
    assert [n["pinned"] for n in body["neighbours"]][:3] == [True, False, True]
    assert not hidden & set(shown)
    # The synthetic items carry votes, so the default prior takes part in the served ranking.
    assert result["prior_weight"] == body["prior_weight"] == 0.4
    assert any(n["prior_score"] for n in body["neighbours"] if not n["pinned"])
    assert Embedding384.objects.for_model(MODEL_KEY).count() == 300

    # The kept set is reused, timed without curation this time, then cleaned up.
    out = StringIO()
    call_command(
        "bench_similar", items=300, blend="hybrid", curated=0, queries=20, pages=5,
        recall_queries=5, json=True, stdout=out,
    )  # fmt: skip
    again = json.loads(out.getvalue())
    assert (again["curated"], again["load_s"], again["index_build_s"]) == (0, 0.0, 0.0)
    assert again["query_p95_ms"] >= again["query_p50_ms"] > 0
    assert not Curation.objects.exists()
    assert not Embedding384.objects.for_model(MODEL_KEY).exists()
