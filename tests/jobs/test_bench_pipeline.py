"""bench_pipeline's free-provider phases on a small catalog: the first job bulk-loads and leaves
its table indexed, the lexical rows are done before it, and the live-index phase writes vectors
of its own for the series copies."""

from __future__ import annotations

import pytest
from django.test import override_settings

from embeddings.models import Embedding384, LexicalVector
from embeddings.registry import UnknownModel, resolve
from embeddings.workbench.management.commands import bench_pipeline
from embeddings.workbench.management.commands.bench_pipeline import (
    FREE_SPEC,
    Command,
    FreeProvider,
    _copy_as_series,
    _free_model_known,
)
from tests.conftest import make_item
from tests.jobs.test_bulk_load import has_index

pytestmark = pytest.mark.django_db


def quiet(text: str) -> None:
    pass


@override_settings(JOB_BULK_LOAD_MIN_ITEMS=5)
def test_the_free_phases_build_the_index_once_and_measure_a_live_index_slice() -> None:
    for i in range(12):
        make_item(title=f"Film {i}", overview=f"A lighthouse keeper's story, part {i}.")
    series = _copy_as_series(4)
    command = Command()

    with _free_model_known():
        lexical = command._lexical(quiet)
        assert LexicalVector.objects.count() == 16  # every item, the series copies too
        free = command._free(3, 1, quiet)
        assert has_index()  # built by the job itself after its last batch
        live = command._live_index(3, 1, quiet)

    assert lexical["lexical_refresh_s"] > 0
    assert free["free_items_per_s"] > free["free_items_per_s_with_index_build"] > 0
    assert free["free_after_last_batch_s"] == free["free_index_build_s"] > 0
    assert free["stale_rerun_s"] > 0
    assert live["live_index_items"] == series == 4
    assert live["free_items_per_s_with_live_index"] > 0
    rows = Embedding384.objects.for_model(FREE_SPEC.key)
    assert rows.count() == 16
    # The copies have the texts of the first films, not their vectors.
    film, copy = (
        rows.filter(item__kind=kind).order_by("item_id").values_list("embedding", flat=True)[0]
        for kind in ("movie", "series")
    )
    assert list(film) != list(copy)
    with pytest.raises(UnknownModel):  # the key is known only while the benchmark runs
        resolve(FREE_SPEC.key)


def test_a_salt_gives_other_vectors_for_the_same_texts() -> None:
    texts = ["a storm over the harbour", "a robot in the desert"]
    plain = FreeProvider()._embed_batch(texts, query=False)

    assert FreeProvider()._embed_batch(texts, query=False) == plain
    assert FreeProvider(salt="series")._embed_batch(texts, query=False) != plain
    assert bench_pipeline.FREE_SPEC.dimensions == len(plain[0]) == 384
