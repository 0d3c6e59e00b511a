"""bench_sync_catalog's mode on a small catalog: a real sync process against the loopback TMDb,
killed part-way and resumed, every title revised once."""

from __future__ import annotations

import pytest

from catalog.models import SyncJob
from embeddings.workbench.management.commands.bench_sync_catalog import measure


@pytest.mark.django_db(transaction=True)
def test_the_bench_syncs_100_titles_through_a_kill_and_a_resume() -> None:
    result = measure(100, latency_ms=20, kill_at=0.4, say=lambda text: None)

    assert result["updated"] == result["revised_in_catalog"] == 100
    assert result["killed_at_titles"] >= 40
    assert result["titles_per_second"] > 0
    assert result["rate_limited"] == 0
    assert SyncJob.objects.get().status == "completed"
