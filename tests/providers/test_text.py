"""The text an item is embedded from, and the hash that says when it changed."""

from __future__ import annotations

import hashlib

import pytest

from embeddings.text import item_text, source_hash
from tests.conftest import make_item

pytestmark = pytest.mark.django_db


def test_the_text_reads_title_year_tagline_overview_and_credits_in_order():
    item = make_item(
        title="Inception",
        year=2010,
        tagline="Your mind is the scene of the crime.",
        overview="A thief who steals secrets from dreams.",
        genres=["Action", "Science Fiction"],
        keywords=["dream", "heist"],
        cast=["Leonardo DiCaprio", "Elliot Page"],
        director="Christopher Nolan",
    )

    assert item_text(item) == (
        "Inception (2010). Your mind is the scene of the crime. A thief who steals secrets from "
        "dreams. Genres: Action, Science Fiction. Keywords: dream, heist. Starring: Leonardo "
        "DiCaprio, Elliot Page. Directed by: Christopher Nolan."
    )


def test_a_series_names_its_creators():
    item = make_item(
        kind="series", title="Dark", year=2017, overview="", genres=[], director="Baran bo Odar"
    )

    assert item_text(item) == "Dark (2017). Created by: Baran bo Odar."


def test_whitespace_is_normalised_so_the_hash_ignores_it():
    tidy = make_item(title="Heat", overview="A detective hunts a crew of thieves.")
    messy = make_item(title="  Heat ", overview="A detective\n\nhunts a crew   of\tthieves. ")

    assert item_text(tidy) == item_text(messy)
    assert source_hash(item_text(tidy)) == source_hash(item_text(messy))


def test_an_item_without_a_title_has_no_usable_text():
    assert item_text(make_item(title="   ", overview="Something.")) == ""


def test_the_hash_is_the_sha256_of_the_text_without_any_model_prefix():
    text = item_text(make_item(title="Heat", year=1995))

    assert source_hash(text) == hashlib.sha256(text.encode()).hexdigest()
    assert source_hash(text) != source_hash("search_document: " + text)
