"""The model table: every embedding model the settings page offers. Plain data.

A model key reads `provider:model`, with `@dims` when a model is asked for fewer dimensions
than it makes (`openai:text-embedding-3-large@1024`). The dimension picks the table.

Two kinds of key are not in the table: `local:/path/to/model` (a sentence-transformers
directory) and `openai:NAME@DIMS` for any model on an OpenAI-compatible server (vLLM, LM Studio,
text-embeddings-inference) that OPENAI_BASE_URL points at, e.g. `openai:BAAI/bge-base-en-v1.5@768`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, cast

from django.apps import apps
from django.conf import settings

from embeddings import local_models

if TYPE_CHECKING:
    from embeddings.models import EmbeddingBase

# The dimensions a table exists for (one table each, see embeddings.models).
DIMENSIONS = (384, 768, 1024, 1536, 3072)


# Tables that store `halfvec` (2 bytes a dimension) rather than `vector` (4 bytes). pgvector
# indexes `vector` only up to 2,000 dimensions, so 3072 must; at 1536 the HNSW walk reads half
# the bytes for the same recall@10 (measured: README, "Vector storage"). The smaller tables
# keep `vector`: their walk is already fast, and the halved size would buy little.
HALFVEC_DIMENSIONS = frozenset({1536, 3072})


def storage_type(dimensions: int) -> str:
    """How the table of this dimension stores vectors: `halfvec` or `vector`."""
    return "halfvec" if dimensions in HALFVEC_DIMENSIONS else "vector"


def vector_bytes(dimensions: int) -> int:
    """The raw numbers of one vector of this dimension, as its table stores them."""
    return dimensions * (2 if storage_type(dimensions) == "halfvec" else 4)


RECOMMENDED = "recommended"
LEGACY = "legacy"
DEPRECATED = "deprecated"


@dataclass(frozen=True)
class ModelSpec:
    provider: str
    name: str
    dimensions: int
    max_tokens: int
    price_per_million: Decimal
    quality: str
    status: str = ""
    reduced_dimensions: tuple[int, ...] = ()
    query_prefix: str = ""
    document_prefix: str = ""
    # Which tokenizer counts this model's tokens: "tiktoken:cl100k_base", "local:<model>",
    # "wordpiece:bert-base-uncased"; empty means an estimate of four characters a token.
    tokenizer: str = ""
    # Items a second before any job of the model has measured it, where the model runs much
    # slower or faster than its provider's guess (`Provider.throughput`).
    throughput: float | None = None

    @property
    def key(self) -> str:
        # A stored set's spec (`stored_set`) has no provider: its name is the whole key.
        return f"{self.provider}:{self.name}" if self.provider else self.name


@dataclass(frozen=True)
class ResolvedModel:
    """A model key made concrete: the spec plus the dimensions actually stored."""

    spec: ModelSpec
    dimensions: int
    path: str = field(default="")  # a local sentence-transformers directory, for path keys

    @property
    def key(self) -> str:
        base = f"local:{self.path}" if self.path else self.spec.key
        return base if self.dimensions == self.spec.dimensions else f"{base}@{self.dimensions}"

    @property
    def provider(self) -> str:
        return self.spec.provider

    @property
    def table(self) -> type[EmbeddingBase]:
        """The model class of the table that stores this model's vectors (looked up by name:
        the tables' module imports this one)."""
        return cast(
            "type[EmbeddingBase]", apps.get_model("embeddings", f"Embedding{self.dimensions}")
        )

    @property
    def storage_type(self) -> str:
        return storage_type(self.dimensions)

    def cost(self, tokens: float) -> Decimal:
        """What embedding this many tokens costs, in dollars."""
        return Decimal(round(tokens)) * self.spec.price_per_million / Decimal(1_000_000)


class UnknownModel(ValueError):
    pass


_OPENAI_TOKENS = "tiktoken:cl100k_base"
# nomic-embed-text and mxbai-embed-large both use BERT's uncased WordPiece vocabulary, the same
# one all-MiniLM-L6-v2 ships, so their token counts are exact offline.
_BERT_TOKENS = "wordpiece:bert-base-uncased"

MODELS: list[ModelSpec] = [
    ModelSpec("openai", "text-embedding-3-small", 1536, 8191, Decimal("0.02"),
              "Strong retrieval quality for the price; the usual choice on OpenAI. Reduced sizes "
              "lose little: 1024 and 768 are offered because those tables exist.",
              RECOMMENDED, reduced_dimensions=(768, 1024), tokenizer=_OPENAI_TOKENS),
    ModelSpec("openai", "text-embedding-3-large", 3072, 8191, Decimal("0.13"),
              "OpenAI's best; 6.5x the price of 3-small for a few points of recall. At 1536 or "
              "1024 dimensions it still beats 3-small at full size, and its index is smaller.",
              RECOMMENDED, reduced_dimensions=(768, 1024, 1536), tokenizer=_OPENAI_TOKENS),
    ModelSpec("openai", "text-embedding-ada-002", 1536, 8191, Decimal("0.10"),
              "Legacy: costs five times 3-small and scores below it. Keep only for old sets.",
              LEGACY, tokenizer=_OPENAI_TOKENS),
    ModelSpec("ollama", "nomic-embed-text", 768, 8192, Decimal("0"),
              "Good open model with a long context; free on your own Ollama server.",
              RECOMMENDED, query_prefix="search_query: ", document_prefix="search_document: ",
              tokenizer=_BERT_TOKENS),
    ModelSpec("ollama", "mxbai-embed-large", 1024, 512, Decimal("0"),
              "Higher quality than nomic on short texts; overviews past 512 tokens are cut.",
              RECOMMENDED,
              query_prefix="Represent this sentence for searching relevant passages: ",
              tokenizer=_BERT_TOKENS),
    ModelSpec("google", "gemini-embedding-001", 3072, 2048, Decimal("0.15"),
              "Google's current model, top of the multilingual benchmarks; 768 and 1536 are "
              "Google's recommended reduced sizes.",
              RECOMMENDED, reduced_dimensions=(768, 1536)),
    ModelSpec("google", "text-embedding-004", 768, 2048, Decimal("0"),
              "Free of charge on the Gemini API, but Google is retiring it in favour of "
              "gemini-embedding-001; priced at $0 here.",
              LEGACY),
    ModelSpec("voyage", "voyage-3-large", 1024, 32_000, Decimal("0.18"),
              "Voyage's best general model, level with OpenAI's 3-large on film metadata; "
              "its reduced sizes (256, 512) and 2048 have no table here.",
              RECOMMENDED),
    ModelSpec("voyage", "voyage-3", 1024, 32_000, Decimal("0.06"),
              "A third of 3-large's price for a little less recall; a long context.",
              RECOMMENDED),
    ModelSpec("cohere", "embed-english-v3.0", 1024, 512, Decimal("0.10"),
              "Cohere's English model; overviews past 512 tokens are cut.",
              ),
    ModelSpec("cohere", "embed-v4.0", 1536, 128_000, Decimal("0.12"),
              "Cohere's current model, multilingual with a long context; 1024 is the reduced "
              "size that has a table.",
              RECOMMENDED, reduced_dimensions=(1024,)),
    ModelSpec("local", "all-MiniLM-L6-v2", 384, 256, Decimal("0"),
              "Small and fast; runs offline on the CPU. Good enough for a first catalog.",
              RECOMMENDED, tokenizer="local:all-MiniLM-L6-v2"),
    ModelSpec("local", "all-mpnet-base-v2", 768, 384, Decimal("0"),
              "Stronger free model, offline on the CPU: on the 10k TMDb catalog it finds 0.205 "
              "of a curator's judged films in its top 10 where MiniLM finds 0.170 (franchise "
              "siblings: 0.967, 0.953). About 4.4 items/s on 2 cores (MiniLM: 34), 420 MB. "
              "Install it first: manage.py install_local_model all-mpnet-base-v2.",
              # MPNet's vocabulary is BERT's uncased WordPiece plus a few markers: counted
              # offline before the model is installed.
              RECOMMENDED, tokenizer=_BERT_TOKENS, throughput=4.4),
    ModelSpec("none", "disabled", 384, 0, Decimal("0"), "Embeddings turned off."),
]  # fmt: skip

DEFAULT_MODEL_KEY = "local:all-MiniLM-L6-v2"


def _spec(key: str) -> ModelSpec | None:
    # Read from the list on every call, so a model appended to it is known at once.
    return next((spec for spec in MODELS if spec.key == key), None)


def resolve(key: str) -> ResolvedModel:
    """Turn a model key into its spec and stored dimensions, or raise UnknownModel."""
    base, _, dims_text = key.strip().partition("@")
    provider, _, name = base.partition(":")
    if not provider or not name:
        raise UnknownModel(f"model key {key!r} must read provider:model")
    path = ""
    spec = _spec(base)
    if spec is None and provider == "local":
        path = allowed_local_dir(name)
        spec = _local_spec(path)
    if spec is None and provider == "openai" and dims_text.isdigit():
        # Native size 0: the server decides it, the key declares it, and no `dimensions`
        # parameter is sent. 512 tokens is the common limit of the open models such servers run.
        spec = ModelSpec("openai", name, 0, 512, Decimal("0"),
                         "A model on the OpenAI-compatible server at OPENAI_BASE_URL.",
                         reduced_dimensions=(int(dims_text),))  # fmt: skip
    if spec is None:
        raise UnknownModel(f"unknown embedding model {base!r}")
    dimensions = spec.dimensions
    if dims_text:
        if not dims_text.isdigit() or int(dims_text) not in spec.reduced_dimensions:
            allowed = ", ".join(map(str, spec.reduced_dimensions)) or "none"
            raise UnknownModel(
                f"{spec.key} cannot be reduced to {dims_text!r} dimensions (allowed: {allowed})"
            )
        dimensions = int(dims_text)
    if dimensions not in DIMENSIONS:
        raise UnknownModel(f"{key} makes {dimensions}-dimension vectors, and no table stores those")
    return ResolvedModel(spec, dimensions, path)


def stored_set(key: str, dimensions: int) -> ResolvedModel:
    """The vectors stored under this key in the table of this dimension, as a model to read them
    by: for a key the registry does not offer (a retired model, a benchmark's synthetic set), and
    for callers that already hold the table. Nothing can embed with it."""
    spec = ModelSpec("", key, dimensions, 0, Decimal("0"), "Vectors stored under this key.")
    return ResolvedModel(spec, dimensions)


def allowed_local_dir(name: str) -> str:
    """A `local:` key's directory, normalised (`/m`, `/m/` and `/m/.` are one model), when
    LOCAL_MODEL_DIRS (or EMBEDDING_MODEL) lists it; anything else is refused before the file
    system is even looked at, with one answer whether the path exists or not."""
    allowed = set(settings.LOCAL_MODEL_DIRS)
    if settings.EMBEDDING_MODEL.startswith("local:/"):
        allowed.add(os.path.normpath(settings.EMBEDDING_MODEL.partition(":")[2].partition("@")[0]))
    path = os.path.normpath(name) if name.startswith("/") and "\x00" not in name else ""
    if path not in allowed:
        raise UnknownModel(
            f"unknown embedding model 'local:{name[:200]}': a local model must be one of the "
            "directories listed in LOCAL_MODEL_DIRS"
        )
    if not Path(path).is_dir():
        raise UnknownModel(f"the local model directory {path} in LOCAL_MODEL_DIRS is missing")
    return path


def _local_spec(path: str) -> ModelSpec:
    """A sentence-transformers folder, described from its config files (the weights stay on
    disk until the provider embeds with them)."""
    try:
        dimensions = local_models.dimensions(path)
    except local_models.NotAModelFolder as exc:
        raise UnknownModel(str(exc)) from None
    return ModelSpec("local", Path(path).name, dimensions, local_models.max_tokens(path),
                     Decimal("0"), "A sentence-transformers model from a local directory.",
                     tokenizer=f"local:{path}")  # fmt: skip


def default_model_key() -> str:
    """The model the environment asks for: EMBEDDING_MODEL, else EMBEDDING_PROVIDER (auto
    follows LLM_PROVIDER)."""
    if settings.EMBEDDING_MODEL:
        return settings.EMBEDDING_MODEL
    provider = settings.EMBEDDING_PROVIDER
    if provider == "auto":
        provider = {"ollama": "ollama", "openai": "openai"}.get(settings.LLM_PROVIDER, "local")
    return {
        "openai": "openai:text-embedding-3-small",
        "ollama": "ollama:nomic-embed-text",
        "google": "google:gemini-embedding-001@768",
        "voyage": "voyage:voyage-3-large",
        "cohere": "cohere:embed-v4.0",
        "none": "none:disabled",
    }.get(provider, DEFAULT_MODEL_KEY)
