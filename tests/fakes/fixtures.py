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
from typing import Any, TypeVar

import pytest

from tests.fakes._server import FAST_NETWORK, FakeServer
from tests.fakes.cohere_server import FakeCohere
from tests.fakes.google_server import FakeGoogle
from tests.fakes.ollama_server import FakeOllama
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.tmdb_server import FakeTMDb
from tests.fakes.voyage_server import FakeVoyage

S = TypeVar("S", bound=FakeServer)


def _serving(server: S, settings: Any, *, fast: bool = True, **pointed: str) -> Iterator[S]:
    """Start the fake, point each named setting at the server's attribute of that value (e.g.
    OPENAI_BASE_URL="base_url"), keep network waits short, and stop the fake after the test."""
    server.start()
    for name, attribute in pointed.items():
        setattr(settings, name, getattr(server, attribute))
    if fast:
        for name, value in FAST_NETWORK.items():
            setattr(settings, name, value)
    yield server
    server.stop()


@pytest.fixture
def fake_openai(settings: Any) -> Iterator[FakeOpenAI]:
    """A loopback OpenAI; OPENAI_BASE_URL and OPENAI_API_KEY point at it."""
    yield from _serving(
        FakeOpenAI(), settings, OPENAI_BASE_URL="base_url", OPENAI_API_KEY="api_key"
    )


@pytest.fixture
def fake_ollama(settings: Any) -> Iterator[FakeOllama]:
    """A loopback Ollama with nomic-embed-text and mxbai-embed-large pulled; OLLAMA_HOST points at it."""
    yield from _serving(FakeOllama(), settings, OLLAMA_HOST="url")


@pytest.fixture
def fake_google(settings: Any) -> Iterator[FakeGoogle]:
    """A loopback Generative Language API; GOOGLE_BASE_URL and GOOGLE_API_KEY point at it."""
    yield from _serving(FakeGoogle(), settings, GOOGLE_BASE_URL="url", GOOGLE_API_KEY="api_key")


@pytest.fixture
def fake_voyage(settings: Any) -> Iterator[FakeVoyage]:
    """A loopback Voyage AI; VOYAGE_BASE_URL and VOYAGE_API_KEY point at it."""
    yield from _serving(FakeVoyage(), settings, VOYAGE_BASE_URL="url", VOYAGE_API_KEY="api_key")


@pytest.fixture
def fake_cohere(settings: Any) -> Iterator[FakeCohere]:
    """A loopback Cohere; COHERE_BASE_URL and COHERE_API_KEY point at it."""
    yield from _serving(FakeCohere(), settings, COHERE_BASE_URL="url", COHERE_API_KEY="api_key")


@pytest.fixture
def fake_tmdb(settings: Any) -> Iterator[FakeTMDb]:
    """A loopback TMDb; TMDB_BASE_URL and TMDB_API_KEY (a v3 key) point at it."""
    yield from _serving(
        FakeTMDb(), settings, fast=False, TMDB_BASE_URL="url", TMDB_API_KEY="api_key"
    )
