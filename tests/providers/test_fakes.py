"""The loopback fakes other tests rely on: scripts, records and reaching them from elsewhere."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from embeddings.providers import RateLimited, get_provider

pytestmark = pytest.mark.django_db


def test_a_scripted_answer_is_used_once_then_the_default_returns(fake_openai, settings):
    settings.EMBEDDING_MAX_RETRIES = 0
    settings.EMBEDDING_RATE_LIMIT_WAIT = 0
    fake_openai.script(["429"])
    provider = get_provider("openai:text-embedding-3-small")

    with pytest.raises(RateLimited):
        provider.embed(["first"])
    provider.embed(["second"])

    assert fake_openai.inputs == ["first", "second"]


def test_a_key_and_address_saved_on_the_settings_row_reach_the_fake(
    fake_ollama, fake_openai, settings
):
    settings.OPENAI_API_KEY = ""
    settings.OPENAI_BASE_URL = "http://127.0.0.1:9/v1"
    settings.OLLAMA_HOST = "http://127.0.0.1:9"
    fake_openai.save_to_settings_row()
    fake_ollama.save_to_settings_row()

    get_provider("openai:text-embedding-3-small").embed(["via the row"])
    get_provider("ollama:nomic-embed-text").embed(["via the row"])

    assert fake_openai.inputs == ["via the row"]
    assert fake_ollama.inputs == ["search_document: via the row"]


def test_another_process_reaches_the_fake_through_its_environment(fake_openai):
    code = (
        "import os, openai; c = openai.OpenAI(api_key=os.environ['OPENAI_API_KEY'], "
        "base_url=os.environ['OPENAI_BASE_URL']); "
        "print(len(c.embeddings.create(model='text-embedding-3-small', input=['x']).data[0].embedding))"
    )

    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **fake_openai.env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    assert result.stdout.strip() == "1536"
    assert fake_openai.env["EMBEDDING_MAX_RETRIES"] == "2"
