"""What anyone on the network can send before logging in: each answers a 4xx with a sentence,
and leaves one log line, never a traceback."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import User
from django.test import Client
from django.test.client import MULTIPART_CONTENT
from django.urls import reverse

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def console_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    """What the configured console handler writes for the records of the request."""
    [console] = [h for h in logging.getLogger().handlers if h.get_name() == "console"]
    return [console.format(record) for record in caplog.records if console.filter(record)]


def test_a_user_name_longer_than_any_account_is_refused_by_the_form(admin_user: User) -> None:
    client = Client()

    response = client.post(reverse("admin:login"), {"username": "x" * 300, "password": "wrong"})

    assert response.status_code == 200
    assert "at most 150 characters (it has 300)" in response.content.decode()
    assert not AccessAttempt.objects.exists()
    login = {"username": admin_user.username, "password": PASSWORD}
    assert client.post(reverse("admin:login"), login).status_code == 302


def test_a_host_outside_allowed_hosts_answers_400_with_one_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    response = Client().get(reverse("admin:login"), HTTP_HOST="evil.example")

    assert response.status_code == 400
    [line] = console_lines(caplog)
    assert "Invalid HTTP_HOST header: 'evil.example'" in line
    assert "\n" not in line and "Traceback" not in line


@pytest.mark.parametrize("encoding", ["application/x-www-form-urlencoded", MULTIPART_CONTENT])
def test_a_form_larger_than_the_limit_answers_413_with_one_log_line(
    caplog: pytest.LogCaptureFixture, settings, encoding: str
) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    fields = {"username": "ada", "password": "x" * 20_000}
    body = fields if encoding == MULTIPART_CONTENT else urlencode(fields)

    response = Client().post(reverse("admin:login"), body, content_type=encoding)

    assert response.status_code == 413
    assert "a form may send at most 10,000 bytes" in response.content.decode()
    [line] = console_lines(caplog)
    assert "/admin/login/" in line and "\n" not in line


def test_a_form_with_too_many_fields_answers_400_with_one_log_line(
    caplog: pytest.LogCaptureFixture, settings
) -> None:
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    body = urlencode({f"field{n}": "x" for n in range(50)})

    response = Client().post(
        reverse("admin:login"), body, content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 400
    [line] = console_lines(caplog)
    assert "DATA_UPLOAD_MAX_NUMBER_FIELDS" in line
    assert "\n" not in line and "Traceback" not in line
