"""Every provider keeps to the outbound-address rule whatever set its address (the environment as
much as the settings page), and never follows a redirect: a redirect to the stand-in metadata
listener (127.0.0.2) is a named error, and the listener sees no connection, so no key went there."""

from __future__ import annotations

from typing import Any

import pytest

from embeddings.providers import AddressNotAllowed, Redirected, get_provider
from tests.fakes.listener import CountingListener

pytestmark = pytest.mark.django_db
NOMIC = "ollama:nomic-embed-text"
GEMINI = "google:text-embedding-004"
SMALL = "openai:text-embedding-3-small"


def test_an_ollama_host_from_the_environment_in_an_ipv6_spelling_is_refused_before_sending(
    settings: Any, forbidden_target: CountingListener
) -> None:
    settings.OLLAMA_HOST = f"http://[::ffff:127.0.0.2]:{forbidden_target.port}"

    with pytest.raises(AddressNotAllowed, match="carries an IPv4 one"):
        get_provider(NOMIC).embed(["Heat (1995)."])

    assert forbidden_target.connections == 0


def test_an_openai_base_url_with_a_backslash_is_refused_before_sending(
    fake_openai: Any, settings: Any, forbidden_target: CountingListener
) -> None:
    settings.OPENAI_BASE_URL = f"{forbidden_target.url}\\@{fake_openai.base_url[7:]}"

    with pytest.raises(AddressNotAllowed, match="backslash"):
        get_provider(SMALL).embed(["Heat (1995)."])

    assert forbidden_target.connections == 0
    assert fake_openai.calls == 0


def test_ollama_does_not_follow_a_redirect(
    fake_ollama: Any, forbidden_target: CountingListener
) -> None:
    fake_ollama.fail_forever(f"redirect:{forbidden_target.url}/api/embed")

    with pytest.raises(Redirected, match=r"redirect \(HTTP 307\) to http://127.0.0.2"):
        get_provider(NOMIC).embed(["Heat (1995)."])

    assert forbidden_target.connections == 0
    assert fake_ollama.calls == 1  # not retried either: a redirect will not change by itself


def test_google_does_not_follow_a_redirect_nor_send_its_key_there(
    fake_google: Any, forbidden_target: CountingListener
) -> None:
    fake_google.fail_forever(f"redirect:{forbidden_target.url}/v1beta/models/x")

    with pytest.raises(Redirected, match="set the GOOGLE_BASE_URL to the address it points at"):
        get_provider(GEMINI).embed(["Heat (1995)."])

    assert forbidden_target.connections == 0


def test_openai_does_not_follow_a_redirect(
    fake_openai: Any, forbidden_target: CountingListener
) -> None:
    fake_openai.fail_forever(f"redirect:{forbidden_target.url}/v1/embeddings")

    with pytest.raises(Redirected, match="set the OpenAI base URL"):
        get_provider(SMALL).embed(["Heat (1995)."])

    assert forbidden_target.connections == 0
    assert fake_openai.calls == 1
