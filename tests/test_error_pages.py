from __future__ import annotations

import pytest
from django.test import Client


@pytest.mark.django_db
def test_an_unknown_address_shows_a_friendly_page_not_a_traceback(admin_client_: Client) -> None:
    response = admin_client_.get("/admin/no-such-page/here/")
    assert response.status_code == 404
    assert b"Traceback" not in response.content


@pytest.mark.django_db
def test_a_staff_user_without_a_role_is_told_how_to_get_access(outsider_client: Client) -> None:
    response = outsider_client.get("/admin/jobs/")
    assert response.status_code == 403
    assert b"has no role that allows this" in response.content
