"""`bench_similar` on every dimension table: it prints its numbers and leaves each table with
its HNSW index (a failed load used to leave the 1536 table without one)."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command

from embeddings.models import EMBEDDING_TABLES, has_hnsw_index

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


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
