"""Finding 9 of issue 11 (its last two parts): failed logins were not throttled, and every 403
wrote a full traceback to the log."""

from __future__ import annotations

import logging

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def login(client: Client, username: str, password: str) -> int:
    response = client.post(
        reverse("admin:login"), {"username": username, "password": password, "next": "/admin/"}
    )
    return response.status_code


def test_after_too_many_wrong_passwords_even_the_right_one_is_refused_for_a_while(
    admin_user: User, settings
) -> None:
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert login(client, admin_user.username, "wrong") == 200  # the form again, with its error

    assert login(client, admin_user.username, "wrong") == 429
    assert login(client, admin_user.username, PASSWORD) == 429
    page = client.get(reverse("admin:index"), follow=True).content.decode()
    assert "Log in" in page  # never let in

    response = client.post(
        reverse("admin:login"), {"username": admin_user.username, "password": PASSWORD}
    )
    assert "Too many failed logins" in response.content.decode()


def test_a_right_password_before_the_limit_logs_in_and_forgets_the_failures(
    admin_user: User, settings
) -> None:
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        login(client, admin_user.username, "wrong")

    assert login(client, admin_user.username, PASSWORD) == 302
    assert login(Client(), admin_user.username, "wrong") == 200  # counting starts again


def test_a_403_is_logged_in_one_line_with_its_reason(
    curator_client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="django.request")

    response = curator_client.get(reverse("embeddings:storage_delete"), {"model": "x"})

    assert response.status_code == 403
    [record] = [r for r in caplog.records if r.name == "django.request"]
    line = logging.Formatter().format(record)
    assert line.count("\n") == 0 and "Traceback" not in line
    assert "Forbidden" in line and "embeddings.change_embeddingsettings" in line
