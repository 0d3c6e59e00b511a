"""`manage.py embed_text`: an admin checks a provider from a shell."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.django_db


def _embed_text(*args: str) -> str:
    out = StringIO()
    call_command("embed_text", *args, stdout=out)
    return out.getvalue()


def test_it_prints_the_key_the_dimension_and_the_first_values_from_openai(fake_openai):
    output = _embed_text("a heist in dreams", "--model", "openai:text-embedding-3-large@1024")

    assert "model       openai:text-embedding-3-large@1024" in output
    assert "dimensions  1024" in output
    assert "first       [" in output
    assert fake_openai.inputs == ["a heist in dreams"]


def test_it_embeds_a_query_with_the_query_prefix_on_ollama(fake_ollama):
    output = _embed_text("a heist in dreams", "--model", "ollama:nomic-embed-text", "--query")

    assert "dimensions  768" in output
    assert fake_ollama.inputs == ["search_query: a heist in dreams"]


def test_it_works_against_google(fake_google):
    output = _embed_text("a heist in dreams", "--model", "google:gemini-embedding-001@1536")

    assert "dimensions  1536" in output
    assert fake_google.calls == 1


def test_a_provider_failure_is_named_and_exits_non_zero(fake_openai, settings):
    settings.OPENAI_API_KEY = "sk-proj-wrong-secret-for-the-shell"

    with pytest.raises(CommandError) as raised:
        _embed_text("hello", "--model", "openai:text-embedding-3-small")

    assert str(raised.value) == "openai:text-embedding-3-small: OpenAI rejected the API key"


def test_an_unknown_model_key_is_named(db):
    with pytest.raises(CommandError, match="unknown embedding model 'openai:nope'"):
        _embed_text("hello", "--model", "openai:nope")


def test_without_a_model_it_uses_the_active_one(settings):
    settings.EMBEDDING_MODEL = ""
    settings.EMBEDDING_PROVIDER = "local"

    output = _embed_text("a heist in dreams")

    assert "model       local:all-MiniLM-L6-v2" in output
    assert "dimensions  384" in output
