"""The outbound-address rule against spellings that fooled it, each tried through the settings
page's connection form with a listener standing in for the metadata service (on 127.0.0.2): the
form refuses the address, nothing is saved, and the listener sees no connection at all."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from embeddings.models import HealthCheck
from embeddings.providers.credentials import saved_values
from tests.fakes.listener import CountingListener

pytestmark = pytest.mark.django_db
SAVE = "embeddings:embedding_connection"


def save_ollama_host(client: Client, host: str) -> str:
    return client.post(reverse(SAVE), {"ollama_host": host}, follow=True).content.decode()


def test_a_backslash_before_an_allowed_host_does_not_reach_the_address_in_front_of_it(
    admin_client_: Client, fake_ollama: Any, forbidden_target: CountingListener
) -> None:
    # urllib reads 127.0.0.1 as the host; an HTTP client that treats \ as / dials 127.0.0.2.
    host = f"http://127.0.0.2:{forbidden_target.port}\\@{fake_ollama.url.removeprefix('http://')}/"

    page = save_ollama_host(admin_client_, host)

    assert "Ollama host: not allowed: the URL holds a backslash" in page
    assert forbidden_target.connections == 0
    assert not [r for r in fake_ollama.requests if r.path == "/api/embed"]  # no probe went out
    assert saved_values().get("ollama_host", "") == ""
    assert not HealthCheck.objects.exists()


def test_a_user_name_in_the_address_is_refused(
    admin_client_: Client, fake_ollama: Any, forbidden_target: CountingListener
) -> None:
    host = f"http://127.0.0.2:{forbidden_target.port}@{fake_ollama.url.removeprefix('http://')}/"

    page = save_ollama_host(admin_client_, host)

    assert "Ollama host: not allowed: the URL holds a user name or password" in page
    assert forbidden_target.connections == 0
    assert saved_values().get("ollama_host", "") == ""


@pytest.mark.parametrize(
    "spelling",
    [
        "[::ffff:127.0.0.2]",  # IPv4-mapped: the kernel delivers it to 127.0.0.2
        "[::127.0.0.2]",  # IPv4-compatible
        "[64:ff9b::127.0.0.2]",  # NAT64
        "[2002:7f00:2::1]",  # 6to4 around 127.0.0.2
        "[::ffff:0:127.0.0.2]",  # IPv4-translated
    ],
)
def test_an_ipv6_spelling_that_carries_an_ipv4_address_is_refused(
    admin_client_: Client, forbidden_target: CountingListener, spelling: str
) -> None:
    page = save_ollama_host(admin_client_, f"http://{spelling}:{forbidden_target.port}")

    assert "Ollama host: not allowed" in page
    assert "carries an IPv4 one" in page
    assert forbidden_target.connections == 0
    assert saved_values().get("ollama_host", "") == ""
    assert not HealthCheck.objects.exists()
