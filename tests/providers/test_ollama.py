"""The Ollama provider, with real `requests` calls against a loopback Ollama."""

from __future__ import annotations

import socket

import pytest

from embeddings.models import ProviderCredential
from embeddings.providers import (
    ModelNotAvailable,
    ProviderTimeout,
    ProviderUnreachable,
    RateLimited,
    ServerError,
    get_provider,
)
from embeddings.providers.errors import InvalidResponse
from tests.fakes._server import fake_vector

pytestmark = pytest.mark.django_db

NOMIC = "ollama:nomic-embed-text"


def _close(a: list[float], b: list[float]) -> bool:
    return all(abs(x - y) < 1e-6 for x, y in zip(a, b, strict=True))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_documents_go_out_with_the_models_document_prefix_as_one_list(fake_ollama):
    vectors = get_provider(NOMIC).embed(["Inception (2010).", "Heat (1995)."])

    assert fake_ollama.requests[0].path == "/api/embed"
    assert fake_ollama.requests[0].body["input"] == [
        "search_document: Inception (2010).",
        "search_document: Heat (1995).",
    ]
    assert _close(vectors[1], fake_vector("search_document: Heat (1995).", 768))


def test_queries_go_out_with_the_query_prefix(fake_ollama):
    get_provider("ollama:mxbai-embed-large").embed(["a heist in dreams"], query=True)

    assert fake_ollama.inputs == [
        "Represent this sentence for searching relevant passages: a heist in dreams"
    ]


def test_many_texts_are_split_by_the_batch_size_and_kept_in_order(fake_ollama, settings):
    settings.EMBEDDING_BATCH_SIZE = 10
    texts = [f"Film number {n}." for n in range(25)]

    vectors = get_provider(NOMIC).embed(texts)

    assert sorted(len(r.inputs) for r in fake_ollama.requests) == [5, 10, 10]
    assert _close(vectors[17], fake_vector("search_document: Film number 17.", 768))


def test_a_model_that_is_not_pulled_says_how_to_pull_it(fake_ollama):
    fake_ollama.pulled.discard("nomic-embed-text")

    with pytest.raises(ModelNotAvailable) as raised:
        get_provider(NOMIC).embed(["Heat (1995)."])

    assert str(raised.value) == (
        "model 'nomic-embed-text' is not pulled: run `ollama pull nomic-embed-text`"
    )
    assert fake_ollama.calls == 1


def test_the_health_check_names_a_model_that_is_not_pulled_without_embedding(fake_ollama):
    fake_ollama.pulled.discard("mxbai-embed-large")

    with pytest.raises(ModelNotAvailable, match="run `ollama pull mxbai-embed-large`"):
        get_provider("ollama:mxbai-embed-large").check()

    assert [r.path for r in fake_ollama.requests] == ["/api/tags"]


def test_the_health_check_embeds_a_probe_when_the_model_is_pulled(fake_ollama):
    assert get_provider(NOMIC).check() > 0
    assert [r.path for r in fake_ollama.requests] == ["/api/tags", "/api/embed"]


def test_no_server_running_is_named_with_its_address(fake_ollama, settings):
    port = _free_port()
    settings.OLLAMA_HOST = f"127.0.0.1:{port}"

    with pytest.raises(ProviderUnreachable) as raised:
        get_provider(NOMIC).embed(["Heat (1995)."])

    assert str(raised.value) == f"cannot connect to Ollama at http://127.0.0.1:{port}"


def test_a_host_saved_on_the_settings_page_wins_over_the_environment(fake_ollama, settings):
    settings.OLLAMA_HOST = f"http://127.0.0.1:{_free_port()}"
    ProviderCredential.store({"ollama_host": fake_ollama.url})

    assert len(get_provider(NOMIC).embed(["Heat (1995)."])) == 1


def test_a_server_error_is_retried_then_succeeds(fake_ollama):
    fake_ollama.script(["500", "ok"])

    assert len(get_provider(NOMIC).embed(["Heat (1995)."])) == 1
    assert fake_ollama.calls == 2


def test_a_busy_server_is_waited_for_within_the_rate_limit_bound_then_given_up(
    fake_ollama, settings
):
    settings.EMBEDDING_MAX_RETRIES = 2
    settings.EMBEDDING_RATE_LIMIT_WAIT = 0.5
    fake_ollama.fail_forever("429:retry-after=0")

    with pytest.raises(RateLimited):
        get_provider(NOMIC).embed(["Heat (1995)."])

    # Backed off past the two retries a failure gets, and stopped once the waits reached 0.5 s.
    assert 3 < fake_ollama.calls < 20


def test_a_server_failing_forever_gives_up_with_its_message(fake_ollama):
    fake_ollama.fail_forever(500)

    with pytest.raises(ServerError, match="Ollama answered HTTP 500: an error was encountered"):
        get_provider(NOMIC).embed(["Heat (1995)."])

    assert fake_ollama.calls == 3


def test_an_answer_that_is_not_json_is_named(fake_ollama):
    fake_ollama.fail_forever("malformed")

    with pytest.raises(ServerError, match="not valid JSON"):
        get_provider(NOMIC).embed(["Heat (1995)."])


def test_a_vector_of_the_wrong_dimension_is_refused(fake_ollama):
    fake_ollama.script(["wrong-dimension"])

    with pytest.raises(InvalidResponse, match="767 dimensions, expected 768"):
        get_provider(NOMIC).embed(["Heat (1995)."])


def test_a_server_that_does_not_answer_in_time_is_named(fake_ollama, settings):
    settings.EMBEDDING_TIMEOUT = 0.3
    settings.EMBEDDING_MAX_RETRIES = 0
    fake_ollama.fail_forever("slow:5")

    with pytest.raises(ProviderTimeout, match=r"did not answer within 0\.3 s"):
        get_provider(NOMIC).embed(["Heat (1995)."])


def test_mxbai_texts_are_cut_to_512_bert_tokens(fake_ollama):
    provider = get_provider("ollama:mxbai-embed-large")
    overview = "A crew of thieves plants an idea inside a dreaming heir's mind. " * 800

    provider.embed([overview])

    sent = fake_ollama.inputs[0]
    assert provider.count_tokens(sent) == 512
    assert overview.startswith(sent)
    assert provider.exact_tokens is True
    assert provider.tokenizer_key == "wordpiece:bert-base-uncased"
