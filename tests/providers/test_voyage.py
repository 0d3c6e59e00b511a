"""The Voyage AI provider, with real `requests` calls against a loopback Voyage API."""

from __future__ import annotations

import logging

import pytest

from embeddings.jobs.embedding import embed_items
from embeddings.models import Embedding1024
from embeddings.providers import (
    AuthenticationFailed,
    BatchTooLarge,
    MissingCredentials,
    ModelNotAvailable,
    RateLimited,
    get_provider,
)
from embeddings.text import item_text
from tests.conftest import make_item
from tests.fakes._server import fake_vector
from tests.fakes.voyage_server import count_tokens

pytestmark = pytest.mark.django_db

LARGE = "voyage:voyage-3-large"
SMALL = "voyage:voyage-3"


def test_items_embedded_through_it_are_stored_in_the_1024_table(fake_voyage) -> None:
    heat = make_item(title="Heat", overview="A detective hunts a crew of thieves.")
    ronin = make_item(title="Ronin", overview="Mercenaries chase a briefcase across France.")

    result = embed_items([heat.id, ronin.id], LARGE)

    assert (result.done, result.failed) == (2, 0)
    rows = Embedding1024.objects.for_model(LARGE)
    assert sorted(rows.values_list("item_id", flat=True)) == sorted([heat.id, ronin.id])
    sent = fake_voyage.requests[0].body
    assert sent["model"] == "voyage-3-large"
    assert sent["input_type"] == "document"
    assert "output_dimension" not in sent  # 1024 is its native size
    assert fake_voyage.requests[0].headers["authorization"] == f"Bearer {fake_voyage.api_key}"


def test_a_query_is_sent_as_a_query_and_vectors_come_back_in_input_order(fake_voyage) -> None:
    texts = ["a heist in dreams", "a robot alone on earth", "a shark off a beach town"]

    vectors = get_provider(SMALL).embed(texts, query=True)

    assert fake_voyage.requests[0].body["input_type"] == "query"
    assert fake_voyage.inputs == texts  # no prefix of ours: Voyage adds its own prompt
    for text, vector in zip(texts, vectors, strict=True):
        assert vector == pytest.approx(fake_vector(text, 1024), abs=1e-6)


def test_the_tokens_voyage_counted_are_kept(fake_voyage) -> None:
    provider = get_provider(SMALL)

    provider.embed(["twelve chars", "sixteen chars!!!"])

    assert provider.tokens_used == 3 + 4


def test_requests_stay_within_a_batch_of_1000_texts(fake_voyage, settings) -> None:
    settings.EMBEDDING_BATCH_SIZE = 2048
    texts = [f"Film number {n}." for n in range(1500)]

    get_provider(SMALL).embed(texts)

    assert sorted(len(r.inputs) for r in fake_voyage.requests) == [500, 1000]


def test_requests_stay_within_the_models_token_budget(fake_voyage, settings) -> None:
    settings.EMBEDDING_BATCH_SIZE = 2048
    overview = "x" * 4000  # about 1,000 tokens each

    get_provider(LARGE).embed([f"{n} {overview}" for n in range(200)])

    assert fake_voyage.calls > 1
    assert all(sum(len(t) for t in r.inputs) / 4 <= 120_000 for r in fake_voyage.requests)


def test_a_wrong_key_is_named_not_retried_and_never_shown(fake_voyage, settings, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    settings.VOYAGE_API_KEY = "pa-this-is-the-wrong-secret-key-42"

    with pytest.raises(AuthenticationFailed) as raised:
        get_provider(LARGE).embed(["Heat (1995)."])

    assert str(raised.value) == "Voyage AI rejected the API key"
    assert fake_voyage.calls == 1
    assert "wrong-secret" not in caplog.text


def test_a_missing_key_is_named_before_anything_is_sent(fake_voyage, settings) -> None:
    settings.VOYAGE_API_KEY = ""

    with pytest.raises(MissingCredentials, match="set VOYAGE_API_KEY"):
        get_provider(LARGE).embed(["Heat (1995)."])

    assert fake_voyage.calls == 0


def test_a_model_voyage_does_not_serve_is_named(fake_voyage) -> None:
    del fake_voyage.models["voyage-3"]

    with pytest.raises(ModelNotAvailable, match="Voyage AI has no embedding model 'voyage-3'"):
        get_provider(SMALL).embed(["Heat (1995)."])

    assert fake_voyage.calls == 1


def test_a_batch_voyage_finds_too_long_is_named_and_its_items_go_one_by_one(
    fake_voyage,
) -> None:
    items = [make_item(title=f"Film {n}", overview="A short overview.") for n in range(3)]
    one_item = max(count_tokens(item_text(item)) for item in items)
    fake_voyage.batch_tokens["voyage-3"] = one_item

    with pytest.raises(
        BatchTooLarge, match=f"max allowed tokens per submitted batch is {one_item}"
    ):
        get_provider(SMALL).embed([item_text(item) for item in items])
    result = embed_items([item.id for item in items], SMALL)

    assert (result.done, result.failed) == (3, 0)
    # The refused batch of three, then each item on its own.
    assert [len(r.inputs) for r in fake_voyage.requests] == [3, 3, 1, 1, 1]


def test_a_rate_limit_is_waited_out_then_named_when_it_lasts(fake_voyage, settings) -> None:
    fake_voyage.script(["429:retry-after=0.05", "ok"])
    provider = get_provider(LARGE)

    provider.embed(["Heat (1995)."])

    assert fake_voyage.calls == 2
    settings.EMBEDDING_MAX_RETRIES = 0
    settings.EMBEDDING_RATE_LIMIT_WAIT = 0
    fake_voyage.fail_forever("429")
    with pytest.raises(RateLimited, match="Voyage AI is rate limiting requests"):
        provider.embed(["Ronin (1998)."])
