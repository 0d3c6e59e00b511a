"""The model table: what the settings page can offer and how keys pick tables."""

from __future__ import annotations

from decimal import Decimal

import pytest

from embeddings.registry import MODELS, UnknownModel, default_model_key, resolve


@pytest.mark.parametrize(
    ("key", "dimensions", "max_tokens", "price"),
    [
        ("openai:text-embedding-3-small", 1536, 8191, "0.02"),
        ("openai:text-embedding-3-large", 3072, 8191, "0.13"),
        ("openai:text-embedding-ada-002", 1536, 8191, "0.10"),
        ("ollama:nomic-embed-text", 768, 8192, "0"),
        ("ollama:mxbai-embed-large", 1024, 512, "0"),
        ("google:text-embedding-004", 768, 2048, "0"),
        ("google:gemini-embedding-001", 3072, 2048, "0.15"),
        ("local:all-MiniLM-L6-v2", 384, 256, "0"),
    ],
)
def test_every_model_of_the_catalog_resolves_with_its_size_limit_and_price(
    key, dimensions, max_tokens, price
):
    model = resolve(key)

    assert model.key == key
    assert model.dimensions == dimensions
    assert model.spec.max_tokens == max_tokens
    assert model.spec.price_per_million == Decimal(price)
    assert model.spec.quality


def test_a_reduced_model_key_picks_the_smaller_table():
    model = resolve("openai:text-embedding-3-large@1024")

    assert model.dimensions == 1024
    assert model.key == "openai:text-embedding-3-large@1024"


def test_a_reduction_with_no_table_is_refused():
    with pytest.raises(UnknownModel, match="cannot be reduced to '512'"):
        resolve("openai:text-embedding-3-small@512")


def test_every_offered_reduction_has_a_table():
    for spec in MODELS:
        for dims in spec.reduced_dimensions:
            assert resolve(f"{spec.key}@{dims}").dimensions == dims


def test_prefixes_are_the_ones_the_models_were_trained_with():
    nomic = resolve("ollama:nomic-embed-text").spec
    mxbai = resolve("ollama:mxbai-embed-large").spec

    assert (nomic.query_prefix, nomic.document_prefix) == ("search_query: ", "search_document: ")
    assert mxbai.query_prefix == "Represent this sentence for searching relevant passages: "
    assert mxbai.document_prefix == ""


def test_ada_is_marked_legacy():
    assert resolve("openai:text-embedding-ada-002").spec.status == "legacy"


def test_an_unknown_model_is_refused():
    with pytest.raises(UnknownModel, match="unknown embedding model"):
        resolve("openai:text-embedding-9")


@pytest.mark.parametrize(
    ("provider", "llm", "expected"),
    [
        ("auto", "ollama", "ollama:nomic-embed-text"),
        ("auto", "openai", "openai:text-embedding-3-small"),
        ("auto", "anthropic", "local:all-MiniLM-L6-v2"),
        ("auto", "", "local:all-MiniLM-L6-v2"),
        ("google", "", "google:gemini-embedding-001@768"),
        ("none", "openai", "none:disabled"),
    ],
)
def test_auto_follows_the_llm_provider(settings, provider, llm, expected):
    settings.EMBEDDING_MODEL = ""
    settings.EMBEDDING_PROVIDER = provider
    settings.LLM_PROVIDER = llm

    assert default_model_key() == expected
    assert resolve(expected).key == expected


def test_a_model_on_an_openai_compatible_server_needs_a_size_with_a_table():
    assert resolve("openai:BAAI/bge-base-en-v1.5@768").dimensions == 768
    with pytest.raises(UnknownModel, match="no table stores those"):
        resolve("openai:intfloat/e5-mistral-7b-instruct@4096")
    with pytest.raises(UnknownModel, match="unknown embedding model"):
        resolve("openai:BAAI/bge-base-en-v1.5")
