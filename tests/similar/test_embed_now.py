from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from embeddings.models import Embedding384
from embeddings.text import item_text, source_hash
from tests.conftest import make_item

MODEL = "local:all-MiniLM-L6-v2"


@pytest.mark.slow
@pytest.mark.django_db
def test_staff_embed_an_item_without_a_vector_from_its_page(staff_client: Client) -> None:
    item = make_item(title="Heat", overview="A thief and a detective in Los Angeles.")
    page = reverse("embeddings:similar", args=[item.pk])
    assert "This item has no vector" in staff_client.get(page).content.decode()

    response = staff_client.post(
        reverse("embeddings:similar_embed", args=[item.pk]), {"model": MODEL}, follow=True
    )
    html = response.content.decode()
    assert response.redirect_chain[-1][0].startswith(page)
    assert "Embedded Heat (2000) with local:all-MiniLM-L6-v2." in html
    assert "This item has no vector" not in html
    row = Embedding384.objects.get(item=item, model_key=MODEL)
    assert row.source_hash == source_hash(item_text(item))


@pytest.mark.django_db
def test_embed_now_with_a_model_that_embeds_nothing_names_the_reason(staff_client: Client) -> None:
    item = make_item(title="Heat")
    response = staff_client.post(
        reverse("embeddings:similar_embed", args=[item.pk]), {"model": "none:disabled"}, follow=True
    )
    assert response.status_code == 200
    assert "could not embed Heat (2000): embeddings are turned off" in response.content.decode()
    assert Embedding384.objects.count() == 0


@pytest.mark.django_db
def test_embed_now_with_an_unknown_model_names_it_and_goes_back_to_the_page(
    staff_client: Client,
) -> None:
    item = make_item(title="Heat")
    response = staff_client.post(
        reverse("embeddings:similar_embed", args=[item.pk]), {"model": "nope:model"}, follow=True
    )
    assert response.redirect_chain[-1][0].endswith("?model=nope%3Amodel")
    assert (
        "could not embed Heat (2000): unknown embedding model &#x27;nope:model&#x27;"
        in response.content.decode()
    )
    assert Embedding384.objects.count() == 0
