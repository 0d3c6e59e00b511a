"""The OpenAI provider, driven through the official client against a loopback OpenAI."""

from __future__ import annotations

import logging
import socket
import time

import pytest

from embeddings.models import ProviderCredential
from embeddings.providers import (
    AuthenticationFailed,
    EmbeddingError,
    InvalidResponse,
    MissingCredentials,
    ModelNotAvailable,
    ProviderTimeout,
    ProviderUnreachable,
    ServerError,
    get_provider,
)
from tests.fakes._server import fake_vector

pytestmark = pytest.mark.django_db

SMALL = "openai:text-embedding-3-small"


def _close(a: list[float], b: list[float]) -> bool:
    return all(abs(x - y) < 1e-5 for x, y in zip(a, b, strict=True))


def test_it_returns_one_unit_vector_per_text_in_input_order(fake_openai):
    texts = ["Inception (2010).", "Heat (1995).", "Amélie (2001)."]

    vectors = get_provider(SMALL).embed(texts)

    assert [len(v) for v in vectors] == [1536, 1536, 1536]
    for text, vector in zip(texts, vectors, strict=True):
        assert _close(vector, fake_vector(text, 1536))
    assert fake_openai.requests[0].body["encoding_format"] == "base64"
    assert "dimensions" not in fake_openai.requests[0].body


def test_a_compatible_server_that_answers_float_lists_is_read_as_well(fake_openai):
    fake_openai.ignores_encoding_format = True
    texts = ["Inception (2010).", "Heat (1995)."]

    vectors = get_provider(f"{SMALL}@768").embed(texts)

    for text, vector in zip(texts, vectors, strict=True):
        assert _close(vector, fake_vector(text, 768))


def test_a_reduced_model_asks_openai_for_its_dimensions(fake_openai):
    vectors = get_provider("openai:text-embedding-3-large@1024").embed(["Alien (1979)."])

    assert len(vectors[0]) == 1024
    assert fake_openai.requests[0].body["dimensions"] == 1024
    assert fake_openai.requests[0].body["model"] == "text-embedding-3-large"


def test_more_than_2048_texts_go_out_in_several_requests_and_come_back_in_order(
    fake_openai, settings
):
    settings.EMBEDDING_BATCH_SIZE = 2048
    texts = [f"Film number {n}." for n in range(4100)]

    vectors = get_provider(f"{SMALL}@768").embed(texts)

    assert sorted(len(r.inputs) for r in fake_openai.requests) == [4, 2048, 2048]
    assert _close(vectors[4099], fake_vector("Film number 4099.", 768))
    assert _close(vectors[2048], fake_vector("Film number 2048.", 768))


def test_a_request_never_carries_more_than_300000_tokens(fake_openai, settings):
    settings.EMBEDDING_BATCH_SIZE = 2048
    provider = get_provider(SMALL)
    text = "heist " * 8000  # about 8,000 tokens each: 40 of them exceed one request's budget
    texts = [f"{n} {text}" for n in range(40)]

    vectors = provider.embed(texts)

    assert len(vectors) == 40
    assert fake_openai.calls == 2
    for request in fake_openai.requests:
        assert sum(provider.count_tokens(t) for t in request.inputs) <= 300_000


def test_a_request_carries_at_most_the_configured_batch_size(fake_openai, settings):
    settings.EMBEDDING_BATCH_SIZE = 3

    get_provider(SMALL).embed([f"Film number {n}." for n in range(7)])

    assert sorted(len(r.inputs) for r in fake_openai.requests) == [1, 3, 3]


def test_several_requests_run_at_once(fake_openai, settings):
    settings.EMBEDDING_CONCURRENCY = 4
    settings.EMBEDDING_BATCH_SIZE = 2
    fake_openai.script(["slow:0.5"] * 4)
    texts = [f"Film number {n}." for n in range(8)]

    get_provider(SMALL).embed(texts)

    assert fake_openai.calls == 4
    assert fake_openai.max_in_flight >= 2


def test_a_50000_character_overview_is_cut_to_the_models_token_limit(fake_openai):
    provider = get_provider(SMALL)
    overview = "A thief who steals corporate secrets through dream-sharing technology. " * 750
    assert len(overview) > 50_000

    provider.embed([overview])

    sent = fake_openai.inputs[0]
    assert provider.count_tokens(sent) == 8191
    assert overview.startswith(sent)


def test_tokens_are_counted_with_the_models_own_tokenizer(fake_openai):
    provider = get_provider(SMALL)

    assert provider.count_tokens("hello world") == 2
    assert provider.tokenizer_key == "tiktoken:cl100k_base"
    assert provider.exact_tokens is True


def test_the_tokens_openai_reports_are_added_up(fake_openai):
    provider = get_provider(SMALL)

    provider.embed(["hello world", "good night"])

    assert provider.tokens_used == 4


def test_a_wrong_key_is_named_not_retried_and_never_shown(fake_openai, settings, caplog):
    caplog.set_level(logging.DEBUG)
    settings.OPENAI_API_KEY = "sk-proj-this-is-the-wrong-secret-key-42"

    with pytest.raises(AuthenticationFailed) as raised:
        get_provider(SMALL).embed(["Heat (1995)."])

    assert str(raised.value) == "OpenAI rejected the API key"
    assert fake_openai.calls == 1
    assert "this-is-the-wrong-secret" not in str(raised.value)
    assert "this-is-the-wrong-secret" not in caplog.text


def test_a_missing_key_is_named_before_anything_is_sent(fake_openai, settings):
    settings.OPENAI_API_KEY = ""

    with pytest.raises(MissingCredentials, match="OpenAI API key is not set"):
        get_provider(SMALL).embed(["Heat (1995)."])

    assert fake_openai.calls == 0


def test_a_key_saved_on_the_settings_page_wins_over_the_environment(fake_openai, settings):
    settings.OPENAI_API_KEY = "sk-from-the-environment-that-is-wrong"
    ProviderCredential.store({"openai_api_key": fake_openai.api_key})

    assert len(get_provider(SMALL).embed(["Heat (1995)."])) == 1


def test_an_unknown_model_is_named_and_not_retried(fake_openai):
    fake_openai.script(["404"])

    with pytest.raises(ModelNotAvailable, match="OpenAI has no model 'text-embedding-3-small'"):
        get_provider(SMALL).embed(["Heat (1995)."])

    assert fake_openai.calls == 1


def test_a_rate_limit_waits_for_retry_after_then_succeeds(fake_openai):
    fake_openai.script(["429:retry-after=1", "ok"])
    started = time.monotonic()

    vectors = get_provider(SMALL).embed(["Heat (1995)."])

    assert len(vectors) == 1
    assert fake_openai.calls == 2
    assert time.monotonic() - started >= 1.0


def test_a_server_error_is_retried_then_succeeds(fake_openai):
    fake_openai.script(["500", "503", "ok"])

    vectors = get_provider(SMALL).embed(["Heat (1995)."])

    assert len(vectors) == 1
    assert fake_openai.calls == 3


def test_a_server_that_keeps_failing_is_given_up_after_the_retry_limit(fake_openai, settings):
    settings.EMBEDDING_MAX_RETRIES = 3
    fake_openai.fail_forever(500)

    with pytest.raises(ServerError, match="OpenAI answered HTTP 500"):
        get_provider(SMALL).embed(["Heat (1995)."])

    assert fake_openai.calls == 4


def test_an_answer_that_is_not_json_is_named(fake_openai):
    fake_openai.fail_forever("malformed")

    with pytest.raises(ServerError, match="not valid embeddings JSON"):
        get_provider(SMALL).embed(["Heat (1995)."])


def test_a_vector_of_the_wrong_dimension_is_refused(fake_openai):
    fake_openai.script(["wrong-dimension"])

    with pytest.raises(InvalidResponse, match="1535 dimensions, expected 1536"):
        get_provider(SMALL).embed(["Heat (1995)."])


def test_a_server_that_does_not_answer_in_time_is_named(fake_openai, settings):
    settings.EMBEDDING_TIMEOUT = 0.3
    settings.EMBEDDING_MAX_RETRIES = 1
    fake_openai.fail_forever("slow:5")

    with pytest.raises(ProviderTimeout, match=r"did not answer within 0\.3 s"):
        get_provider(SMALL).embed(["Heat (1995)."])

    assert fake_openai.calls == 2


def test_nothing_listening_is_named_with_the_address(fake_openai, settings):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.OPENAI_BASE_URL = f"http://127.0.0.1:{port}/v1"

    with pytest.raises(ProviderUnreachable) as raised:
        get_provider(SMALL).embed(["Heat (1995)."])

    assert str(raised.value) == f"cannot connect to OpenAI at http://127.0.0.1:{port}/v1"


def test_check_reports_the_latency_of_a_probe(fake_openai):
    latency = get_provider(SMALL).check()

    assert latency > 0
    assert fake_openai.calls == 1


def test_any_model_on_an_openai_compatible_server_is_served_by_name_and_size(fake_openai):
    fake_openai.models["BAAI/bge-small-en-v1.5"] = 384
    provider = get_provider("openai:BAAI/bge-small-en-v1.5@384")

    vectors = provider.embed(["Heat (1995)."])

    assert provider.key == "openai:BAAI/bge-small-en-v1.5@384"
    assert len(vectors[0]) == 384
    assert fake_openai.requests[0].body["model"] == "BAAI/bge-small-en-v1.5"
    assert "dimensions" not in fake_openai.requests[0].body
    assert provider.exact_tokens is False


def test_an_empty_text_is_refused_before_anything_is_sent(fake_openai):
    with pytest.raises(EmbeddingError, match="cannot embed an empty text"):
        get_provider(SMALL).embed(["Heat (1995).", "  "])

    assert fake_openai.calls == 0


def test_a_used_up_quota_is_named_and_not_retried(fake_openai):
    fake_openai.script(["429:insufficient_quota"])

    with pytest.raises(EmbeddingError, match="quota is used up: check billing"):
        get_provider(SMALL).embed(["Heat (1995)."])

    assert fake_openai.calls == 1
