from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from embeddings.models import Embedding384
from embeddings.neighbours import lexical_rows
from embeddings.providers import get_provider
from embeddings.text import item_text, source_hash
from tests.conftest import make_item

MODEL = "local:all-MiniLM-L6-v2"


@pytest.mark.slow
@pytest.mark.django_db
def test_the_free_text_box_finds_films_like_the_words_with_the_real_local_model(
    curator_client: Client,
) -> None:
    films = [
        make_item(
            title="Inception",
            overview="A thief steals secrets by entering people's dreams.",
            genres=["Science Fiction"],
        ),
        make_item(
            title="Paddington",
            overview="A young bear from Peru finds a family in London.",
            genres=["Family"],
        ),
        make_item(
            title="Jaws",
            overview="A great white shark terrorises a beach town.",
            genres=["Thriller"],
        ),
    ]
    provider = get_provider(MODEL)
    vectors = provider.embed([item_text(film) for film in films])
    for film, vector in zip(films, vectors, strict=True):
        Embedding384.objects.create(
            item=film, model_key=MODEL, embedding=vector, source_hash=source_hash(item_text(film))
        )

    url = reverse("embeddings:similar", args=[films[1].pk])
    html = curator_client.get(url, {"q": "a heist inside dreams"}).content.decode()
    section = html.split('id="text-results"', 1)[1].split("</section>", 1)[0]
    assert "Like “a heist inside dreams”" in section
    ranked = sorted(
        ("Inception", "Paddington", "Jaws"), key=lambda title: section.find(f">{title}</a>")
    )
    assert all(f">{title}</a>" in section for title in ranked)
    assert ranked[0] == "Inception"


@pytest.mark.django_db
def test_the_free_text_results_show_no_empty_reasons_column(curator_client: Client) -> None:
    heat = make_item(title="Heat", overview="A master thief plans one last heist in Los Angeles.")
    make_item(title="Thief", overview="A safecracker plans a last heist before he quits.")
    lexical_rows.refresh()

    html = curator_client.get(
        reverse("embeddings:similar", args=[heat.pk]), {"q": "a last heist", "blend": "lexical"}
    ).content.decode()

    free_text = html.split('id="text-results"', 1)[1].split("</section>", 1)[0]
    assert ">Thief</a>" in free_text
    assert "Why it is there" not in free_text
    # The item's own neighbours say why each is there.
    assert "Why it is there" in html.split("</section>", 1)[1]
