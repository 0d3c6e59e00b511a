"""pytest fixtures that start a loopback provider and point the product at it.

    def test_it_retries_after_a_rate_limit(fake_openai):
        fake_openai.script(["429:retry-after=1", "ok"])
        ...
        assert fake_openai.calls == 2

Each fixture sets the Django settings the providers read (base URL or host, API key) and keeps
timeouts and retry back-offs short, so failure tests stay fast. The EmbeddingSettings row is
left empty; a test that saves a key or host there overrides these settings, as in production.

Worker processes do not see this process's settings: start them with `fake.env` added to their
environment, or call `fake.save_to_settings_row()` (needs database access) so that any process
reading the same database finds the fake.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.fakes._server import FAST_NETWORK
from tests.fakes.cohere_server import FakeCohere
from tests.fakes.google_server import FakeGoogle
from tests.fakes.ollama_server import FakeOllama
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.tmdb_server import FakeTMDb
from tests.fakes.voyage_server import FakeVoyage


def _fast(settings: Any) -> None:
    for name, value in FAST_NETWORK.items():
        setattr(settings, name, value)


@pytest.fixture
def fake_openai(settings: Any) -> Iterator[FakeOpenAI]:
    """A loopback OpenAI; OPENAI_BASE_URL and OPENAI_API_KEY point at it."""
    server = FakeOpenAI().start()
    settings.OPENAI_BASE_URL = server.base_url
    settings.OPENAI_API_KEY = server.api_key
    _fast(settings)
    yield server
    server.stop()


@pytest.fixture
def fake_ollama(settings: Any) -> Iterator[FakeOllama]:
    """A loopback Ollama with nomic-embed-text and mxbai-embed-large pulled; OLLAMA_HOST points at it."""
    server = FakeOllama().start()
    settings.OLLAMA_HOST = server.url
    _fast(settings)
    yield server
    server.stop()


@pytest.fixture
def fake_google(settings: Any) -> Iterator[FakeGoogle]:
    """A loopback Generative Language API; GOOGLE_BASE_URL and GOOGLE_API_KEY point at it."""
    server = FakeGoogle().start()
    settings.GOOGLE_BASE_URL = server.url
    settings.GOOGLE_API_KEY = server.api_key
    _fast(settings)
    yield server
    server.stop()


@pytest.fixture
def fake_voyage(settings: Any) -> Iterator[FakeVoyage]:
    """A loopback Voyage AI; VOYAGE_BASE_URL and VOYAGE_API_KEY point at it."""
    server = FakeVoyage().start()
    settings.VOYAGE_BASE_URL = server.url
    settings.VOYAGE_API_KEY = server.api_key
    _fast(settings)
    yield server
    server.stop()


@pytest.fixture
def fake_cohere(settings: Any) -> Iterator[FakeCohere]:
    """A loopback Cohere; COHERE_BASE_URL and COHERE_API_KEY point at it."""
    server = FakeCohere().start()
    settings.COHERE_BASE_URL = server.url
    settings.COHERE_API_KEY = server.api_key
    _fast(settings)
    yield server
    server.stop()


@pytest.fixture
def fake_tmdb(settings: Any) -> Iterator[FakeTMDb]:
    """A loopback TMDb; TMDB_BASE_URL and TMDB_API_KEY (a v3 key) point at it."""
    server = FakeTMDb().start()
    settings.TMDB_BASE_URL = server.url
    settings.TMDB_API_KEY = server.api_key
    yield server
    server.stop()
