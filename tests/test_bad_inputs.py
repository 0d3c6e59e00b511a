"""Finding 6 of issue 11: inputs that answered 500 or lost data. Each now gets a clear error and
changes nothing (the importer's bad rows are tests/catalog's)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from embeddings.models import EmbeddingJob
from tests.conftest import make_item

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url",
    [
        "/admin/catalog/catalogitem/?q=heat%00",
        "/admin/catalog/catalogitem/?genre=Drama%00",
        "/admin/catalog/catalogitem/?kind__exact=movie%00",
        "/admin/similar/{pk}/?find=heat%00",
        "/admin/similar/{pk}/?genre=Drama%00&q=a%00",
    ],
)
def test_a_nul_character_in_a_search_or_filter_answers_400_with_a_sentence(
    admin_client_: Client, url: str
) -> None:
    item = make_item(title="Heat")

    response = admin_client_.get(url.format(pk=item.pk), HTTP_HX_REQUEST="true")

    assert response.status_code == 400
    assert "contains a NUL character" in response.content.decode()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("spending_cap_usd", "1e400", "at most $9,999,999,999.99"),
        ("spending_cap_usd", "0.001", "whole cents"),
        ("spending_cap_usd", "0", "more than $0"),
        ("batch_size", "²", "whole number"),
        ("batch_size", "0", "between 1 and 2048"),
        ("batch_size", "99999999999999999999", "between 1 and 2048"),
    ],
)
def test_a_job_form_value_out_of_range_is_refused_with_its_reason(
    staff_client: Client, field: str, value: str, message: str
) -> None:
    make_item(title="Heat")

    response = staff_client.post(
        reverse("embeddings:job_start"), {"kind": "movie", field: value}, follow=True
    )

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not EmbeddingJob.objects.exists()
