"""The Google provider, with real `requests` calls against a loopback Generative Language API."""

from __future__ import annotations

import logging
import socket
import time

import pytest

from embeddings.providers import (
    AuthenticationFailed,
    MissingCredentials,
    ModelNotAvailable,
    ProviderTimeout,
    ProviderUnreachable,
    ServerError,
    get_provider,
)
from embeddings.providers.errors import InvalidResponse
from tests.fakes._server import fake_vector

pytestmark = pytest.mark.django_db

GEMINI = "google:gemini-embedding-001@768"


def test_texts_go_out_in_batches_of_at_most_100_with_their_task_type(fake_google, settings):
    settings.EMBEDDING_BATCH_SIZE = 2048
    texts = [f"Film number {n}." for n in range(150)]

    vectors = get_provider(GEMINI).embed(texts)

    assert sorted(len(r.inputs) for r in fake_google.requests) == [50, 100]
    first = fake_google.requests[0].body["requests"][0]
    assert first["taskType"] == "RETRIEVAL_DOCUMENT"
    assert first["outputDimensionality"] == 768
    assert first["model"] == "models/gemini-embedding-001"
    assert all(
        abs(a - b) < 1e-6
        for a, b in zip(vectors[149], fake_vector("Film number 149.", 768), strict=True)
    )


def test_the_key_travels_in_a_header_not_in_the_url(fake_google):
    get_provider(GEMINI).embed(["Heat (1995)."])

    request = fake_google.requests[0]
    assert request.headers["x-goog-api-key"] == fake_google.api_key
    assert "key" not in request.query


def test_a_query_is_embedded_as_a_retrieval_query(fake_google):
    get_provider("google:text-embedding-004").embed(["a heist in dreams"], query=True)

    sent = fake_google.requests[0].body["requests"][0]
    assert sent["taskType"] == "RETRIEVAL_QUERY"
    assert "outputDimensionality" not in sent


def test_a_wrong_key_is_named_not_retried_and_never_shown(fake_google, settings, caplog):
    caplog.set_level(logging.DEBUG)
    settings.GOOGLE_API_KEY = "AIza-this-is-the-wrong-secret-key-42"

    with pytest.raises(AuthenticationFailed) as raised:
        get_provider(GEMINI).embed(["Heat (1995)."])

    assert str(raised.value) == "Google rejected the API key"
    assert fake_google.calls == 1
    assert "wrong-secret" not in caplog.text


def test_a_missing_key_is_named_before_anything_is_sent(fake_google, settings):
    settings.GOOGLE_API_KEY = ""

    with pytest.raises(MissingCredentials, match="Google API key is not set"):
        get_provider(GEMINI).embed(["Heat (1995)."])

    assert fake_google.calls == 0


def test_an_unknown_model_is_named(fake_google):
    fake_google.script(["404"])

    with pytest.raises(
        ModelNotAvailable, match="Google has no embedding model 'gemini-embedding-001'"
    ):
        get_provider(GEMINI).embed(["Heat (1995)."])

    assert fake_google.calls == 1


def test_a_rate_limit_waits_for_googles_retry_delay_then_succeeds(fake_google):
    fake_google.script(["429:retry-after=1", "ok"])
    started = time.monotonic()

    assert len(get_provider(GEMINI).embed(["Heat (1995)."])) == 1
    assert fake_google.calls == 2
    assert time.monotonic() - started >= 1.0


def test_a_server_failing_forever_gives_up(fake_google):
    fake_google.fail_forever(503)

    with pytest.raises(ServerError, match="Google answered HTTP 503"):
        get_provider(GEMINI).embed(["Heat (1995)."])

    assert fake_google.calls == 3


def test_a_vector_of_the_wrong_dimension_is_refused(fake_google):
    fake_google.script(["wrong-dimension"])

    with pytest.raises(InvalidResponse, match="767 dimensions, expected 768"):
        get_provider(GEMINI).embed(["Heat (1995)."])


def test_an_answer_that_is_not_json_is_named(fake_google):
    fake_google.fail_forever("malformed")

    with pytest.raises(ServerError, match="not valid JSON"):
        get_provider(GEMINI).embed(["Heat (1995)."])


def test_a_server_that_does_not_answer_in_time_is_named(fake_google, settings):
    settings.EMBEDDING_TIMEOUT = 0.3
    settings.EMBEDDING_MAX_RETRIES = 0
    fake_google.fail_forever("slow:5")

    with pytest.raises(ProviderTimeout, match=r"Google did not answer within 0\.3 s"):
        get_provider(GEMINI).embed(["Heat (1995)."])


def test_nothing_listening_is_named_with_the_address(fake_google, settings):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.GOOGLE_BASE_URL = f"http://127.0.0.1:{port}"

    with pytest.raises(
        ProviderUnreachable, match=f"cannot connect to Google at http://127.0.0.1:{port}"
    ):
        get_provider(GEMINI).embed(["Heat (1995)."])
