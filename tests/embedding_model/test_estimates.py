"""The cost, storage and time of a model, from the real catalog, against figures worked out by
hand."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.urls import reverse
from django_q.models import OrmQ

from catalog.models import CatalogItem
from embeddings.models import Embedding384, EmbeddingJob, TokenCount
from embeddings.providers import get_provider
from embeddings.switching.estimates import estimate_models
from embeddings.switching.tokens import QUEUED_KEY, counting_providers, refresh_token_counts
from tests.conftest import make_item

pytestmark = pytest.mark.django_db

SMALL = "openai:text-embedding-3-small"
LARGE = "openai:text-embedding-3-large"
LOCAL = "local:all-MiniLM-L6-v2"


def _count(item_id: int, tokenizer: str, tokens: int) -> None:
    TokenCount.objects.create(item_id=item_id, tokenizer=tokenizer, source_hash="x", tokens=tokens)


def test_costs_follow_the_catalogs_tokens_and_the_price(role_clients: dict[str, Client]) -> None:
    short, long = make_item(title="Short"), make_item(title="Long")
    tokenizer = get_provider(SMALL).tokenizer_key
    _count(short.id, tokenizer, 1_200)
    _count(long.id, tokenizer, 10_000)  # over the 8,191 limit: the provider truncates it

    small = estimate_models([SMALL])[0]

    # 1,200 + 8,191 = 9,391 tokens; at $0.02 a million: $0.00018782.
    assert small.tokens is not None and small.tokens.tokens == 9_391
    assert small.cost == Decimal("0.00018782")
    # 4,695.5 tokens an item: 500 items 2,347,750 tokens, 2,000 items 9,391,000, 10,000 items 46,955,000.
    assert [cost for _, cost in small.library_costs] == [
        Decimal("0.046955"),
        Decimal("0.18782"),
        Decimal("0.9391"),
    ]
    page = role_clients["curator"].get(reverse("embeddings:embedding_model")).content.decode()
    large_row = page[page.index(f'data-model="{LARGE}"') :].split("</tr>")[0]
    # 46,955,000 tokens at $0.13 a million = $6.10415; 9,391 tokens = $0.00122083.
    assert "$6.10" in large_row
    assert "$0.0012" in large_row
    assert "9,391" in large_row


def test_uncounted_items_are_extrapolated_and_labelled_an_estimate(
    role_clients: dict[str, Client],
) -> None:
    counted = make_item(title="Counted")
    make_item(title="Not counted yet")
    _count(counted.id, get_provider(SMALL).tokenizer_key, 300)

    small = estimate_models([SMALL])[0]

    assert small.tokens is not None and small.tokens.tokens == 600
    assert not small.tokens.exact
    page = role_clients["curator"].get(reverse("embeddings:embedding_model")).content.decode()
    row = page[page.index(f'data-model="{SMALL}"') :].split("</tr>")[0]
    assert "estimate, 1 counted" in row


def test_a_catalog_never_counted_shows_counting(role_clients: dict[str, Client]) -> None:
    make_item(title="Fresh")

    page = role_clients["curator"].get(reverse("embeddings:embedding_model")).content.decode()

    row = page[page.index(f'data-model="{LOCAL}"') :].split("</tr>")[0]
    assert "counting…" in row


def test_token_counts_are_reused_until_an_items_text_changes() -> None:
    first, _ = make_item(title="One"), make_item(title="Two")
    tokenizers = len(counting_providers())

    assert refresh_token_counts() == 2 * tokenizers
    assert refresh_token_counts() == 0

    first.overview = "A much longer overview than before, so the text and its hash change."
    first.save()
    assert refresh_token_counts() == tokenizers
    assert TokenCount.objects.count() == 2 * tokenizers


def test_storage_is_estimated_from_the_vectors_when_no_table_holds_rows() -> None:
    make_item(title="One")
    make_item(title="Two")

    local = estimate_models([LOCAL])[0]

    assert local.storage is not None
    # 2 rows x 384 dimensions x 4 bytes x 2.2 for the row and the HNSW index = 6,758 bytes.
    assert local.storage.bytes == 6_758
    assert local.storage.basis.startswith("estimate")


def test_storage_is_measured_from_the_table_once_it_holds_enough_rows() -> None:
    items = CatalogItem.objects.bulk_create(
        CatalogItem(tmdb_id=n, title=f"Item {n}") for n in range(1, 1_201)
    )
    Embedding384.objects.bulk_create(
        Embedding384(item=item, model_key=LOCAL, source_hash="x", embedding=[1.0] + [0.0] * 383)
        for item in items[:1_000]
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_total_relation_size('embeddings_384')")
        size = cursor.fetchone()[0]

    local, small = estimate_models([LOCAL, SMALL])
    assert local.storage is not None and small.storage is not None

    # 1,200 items at the measured bytes of each of the 1,000 stored rows.
    assert local.storage.bytes == round(size / 1_000 * 1_200)
    assert local.storage.basis == "measured on the 384-dimension table"
    # The empty 1536 table borrows the overhead measured on the 384 one: its halfvec vectors
    # (2 bytes a number) are 2x bigger.
    factor = size / (1_000 * 384 * 4)
    assert small.storage.bytes == round(1_200 * 1536 * 2 * factor)
    assert small.storage.basis == (
        f"estimate: raw vectors times {factor:.1f} (rows and index, as in the 384-dimension table)"
    )


def _finished(model_key: str, done: int, rate: float, status: str = "completed") -> None:
    EmbeddingJob.objects.create(
        kind="movie", model_key=model_key, status=status, done=done, items_per_second=rate
    )


def test_time_comes_from_the_measured_throughput_of_finished_jobs() -> None:
    for n in range(3):
        make_item(title=f"Item {n}")
    _finished(LOCAL, 300, 20)

    local = estimate_models([LOCAL])[0]

    # 3 items at 20 items a second.
    assert local.duration.seconds == pytest.approx(0.15)
    assert local.duration.basis == "at 20 items/s, measured on its jobs"


def test_a_long_job_weighs_more_in_the_measured_rate_than_short_ones() -> None:
    make_item()
    _finished(LOCAL, 10_000, 118.7)  # the whole catalog
    _finished(LOCAL, 261, 300)  # the demo catalog's films, first run
    _finished(LOCAL, 3, 600)  # three changed items
    _finished(LOCAL, 500, 150, status="cancelled")  # stopped half-way: still a measurement

    local = estimate_models([LOCAL])[0]

    # 10,764 items over 84.25 + 0.87 + 0.005 + 3.33 = 88.45 s: 121.7 items/s, not the mean 292.
    assert local.duration.basis == "at 122 items/s, measured on its jobs"
    assert local.duration.seconds == pytest.approx(1 / 121.7, rel=1e-3)


def test_a_model_is_timed_by_its_own_jobs_never_by_another_models(fake_openai: object) -> None:
    make_item()
    # A self-hosted model behind OPENAI_BASE_URL was fast; OpenAI's own models never ran here.
    _finished("openai:all-MiniLM-L6-v2@384", 5_000, 900)
    _finished(f"{LARGE}@1024", 5_000, 75)

    small, large = estimate_models([SMALL, LARGE])

    assert small.duration.basis == "guess: 150 items/s, until a job of it finishes"
    # The same model at another size embeds as fast.
    assert large.duration.basis == "at 75 items/s, measured on its jobs"


def test_time_is_a_labelled_guess_before_any_job_ran() -> None:
    make_item()

    local, mpnet = estimate_models([LOCAL, "local:all-mpnet-base-v2"])

    assert local.duration.seconds == pytest.approx(1 / 34)
    assert local.duration.basis == "guess: 34 items/s, until a job of it finishes"
    # The larger local model runs at a seventh of the small one's speed: its own guess, not
    # the provider's, or a 40-minute job would be announced as five.
    assert mpnet.duration.seconds == pytest.approx(1 / 4.4)
    assert mpnet.duration.basis == "guess: 4.4 items/s, until a job of it finishes"


def test_the_page_asks_a_worker_to_count_new_or_changed_items(
    role_clients: dict[str, Client],
) -> None:
    cache.clear()
    item = make_item(title="Heat")
    page = reverse("embeddings:embedding_model")

    role_clients["curator"].get(page)
    assert OrmQ.objects.count() == 1  # never counted: a count is queued

    refresh_token_counts()  # what the worker does with it
    cache.delete(QUEUED_KEY)  # a minute later
    role_clients["curator"].get(page)
    assert OrmQ.objects.count() == 1  # counted and unchanged: nothing to ask

    item.overview = "A new overview."
    item.save()
    role_clients["curator"].get(page)
    assert OrmQ.objects.count() == 2
