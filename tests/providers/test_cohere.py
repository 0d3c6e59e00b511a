"""The Cohere provider, with real `requests` calls against a loopback Cohere Embed API v2."""

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
    ServerError,
    get_provider,
)
from tests.conftest import make_item
from tests.fakes._server import fake_vector

pytestmark = pytest.mark.django_db

ENGLISH = "cohere:embed-english-v3.0"
V4_REDUCED = "cohere:embed-v4.0@1024"


@pytest.mark.parametrize("key", [ENGLISH, V4_REDUCED])
def test_items_embedded_through_it_are_stored_in_the_1024_table(fake_cohere, key) -> None:
    heat = make_item(title="Heat", overview="A detective hunts a crew of thieves.")
    ronin = make_item(title="Ronin", overview="Mercenaries chase a briefcase across France.")

    result = embed_items([heat.id, ronin.id], key)

    assert (result.done, result.failed) == (2, 0)
    rows = Embedding1024.objects.for_model(key)
    assert sorted(rows.values_list("item_id", flat=True)) == sorted([heat.id, ronin.id])
    sent = fake_cohere.requests[0].body
    assert sent["input_type"] == "search_document"
    assert sent["embedding_types"] == ["float"]
    assert fake_cohere.requests[0].headers["authorization"] == f"Bearer {fake_cohere.api_key}"


def test_a_reduced_size_is_asked_for_and_the_native_size_is_not(fake_cohere) -> None:
    get_provider(V4_REDUCED).embed(["Heat (1995)."])
    get_provider("cohere:embed-v4.0").embed(["Heat (1995)."])
    get_provider(ENGLISH).embed(["Heat (1995)."])

    reduced, native, english = (r.body for r in fake_cohere.requests)
    assert (reduced["model"], reduced["output_dimension"]) == ("embed-v4.0", 1024)
    assert "output_dimension" not in native
    assert "output_dimension" not in english


def test_a_query_is_sent_as_a_search_query_in_input_order(fake_cohere) -> None:
    texts = ["a heist in dreams", "a robot alone on earth"]

    vectors = get_provider(ENGLISH).embed(texts, query=True)

    assert fake_cohere.requests[0].body["input_type"] == "search_query"
    assert fake_cohere.inputs == texts
    for text, vector in zip(texts, vectors, strict=True):
        assert vector == pytest.approx(fake_vector(text, 1024), abs=1e-6)


def test_requests_stay_within_96_texts_and_the_billed_tokens_are_kept(
    fake_cohere, settings
) -> None:
    settings.EMBEDDING_BATCH_SIZE = 2048
    provider = get_provider(ENGLISH)

    provider.embed([f"Film {n:03d}." for n in range(150)])  # nine characters: three tokens

    assert sorted(len(r.inputs) for r in fake_cohere.requests) == [54, 96]
    assert provider.tokens_used == 150 * 3


def test_a_wrong_key_is_named_not_retried_and_never_shown(fake_cohere, settings, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    settings.COHERE_API_KEY = "co-this-is-the-wrong-secret-key-42"

    with pytest.raises(AuthenticationFailed) as raised:
        get_provider(ENGLISH).embed(["Heat (1995)."])

    assert str(raised.value) == "Cohere rejected the API key"
    assert fake_cohere.calls == 1
    assert "wrong-secret" not in caplog.text


def test_a_missing_key_is_named_before_anything_is_sent(fake_cohere, settings) -> None:
    settings.COHERE_API_KEY = ""

    with pytest.raises(MissingCredentials, match="set COHERE_API_KEY"):
        get_provider(ENGLISH).embed(["Heat (1995)."])

    assert fake_cohere.calls == 0


def test_a_model_cohere_does_not_serve_is_named(fake_cohere) -> None:
    del fake_cohere.models["embed-english-v3.0"]

    with pytest.raises(ModelNotAvailable, match="Cohere has no embedding model"):
        get_provider(ENGLISH).embed(["Heat (1995)."])


def test_a_batch_cohere_finds_too_long_is_named(fake_cohere) -> None:
    fake_cohere.max_texts = 2

    with pytest.raises(BatchTooLarge, match="at most 2 - received 3"):
        get_provider(ENGLISH).embed(["one", "two", "three"])


def test_a_rate_limit_and_a_server_error_are_retried_then_named(fake_cohere, settings) -> None:
    fake_cohere.script(["429:retry-after=0.05", "503", "ok"])
    provider = get_provider(ENGLISH)

    provider.embed(["Heat (1995)."])

    assert fake_cohere.calls == 3
    settings.EMBEDDING_MAX_RETRIES = 0
    settings.EMBEDDING_RATE_LIMIT_WAIT = 0
    fake_cohere.script(["500"])
    with pytest.raises(ServerError, match="Cohere answered HTTP 500"):
        provider.embed(["Ronin (1998)."])
    fake_cohere.fail_forever("429")
    with pytest.raises(RateLimited, match="Cohere is rate limiting requests"):
        provider.embed(["Ronin (1998)."])
