"""What every provider shares: batching by count and by tokens, concurrent requests, bounded
retries with back-off, truncation, L2 normalisation and the dimension check. A provider module
only says how one batch goes over its wire (`_embed_batch`) and how it counts tokens."""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Self, TypeVar

import numpy as np
import requests
from django.conf import settings

from embeddings.providers.credentials import CredentialField, credential

if TYPE_CHECKING:
    from embeddings.registry import ResolvedModel

log = logging.getLogger(__name__)

T = TypeVar("T")

# What `_embed_batch` may return: one list of floats per text, or a matrix with a row per text
# (a provider that decodes binary vectors or runs a model keeps them as an array).
Vectors = list[list[float]] | np.ndarray

# A server may ask for a long pause; past this we would rather fail the batch and let the job retry.
MAX_RETRY_AFTER = 120.0


class EmbeddingError(Exception):
    """A provider failure, named for a person to read. Never carries a secret."""

    retryable = False

    def __init__(self, message: str, *, retryable: bool | None = None) -> None:
        super().__init__(message)
        self.message = message
        if retryable is not None:
            self.retryable = retryable

    def __str__(self) -> str:
        return self.message


class EmbeddingsDisabled(EmbeddingError):
    pass


class MissingCredentials(EmbeddingError):
    """No API key configured: nothing was sent."""


class AuthenticationFailed(EmbeddingError):
    """The provider refused the key (401/403). Retrying will not help."""


class ModelNotAvailable(EmbeddingError):
    """The model does not exist there, or is not pulled (404)."""


class ProviderUnreachable(EmbeddingError):
    """Nothing answered at the configured address (connection refused, DNS)."""

    retryable = True


class ProviderTimeout(EmbeddingError):
    retryable = True


class RateLimited(EmbeddingError):
    """429: wait `retry_after` seconds (when the server said) and try again."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ServerError(EmbeddingError):
    """5xx or an unreadable answer: worth another try, a bounded number of times."""

    retryable = True


class InvalidResponse(EmbeddingError):
    """The answer arrived but is unusable: wrong count, wrong dimension, not a vector."""


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (the seconds form; the date form is rare for APIs)."""
    try:
        seconds = float(value) if value else None
    except ValueError:
        return None
    return max(0.0, seconds) if seconds is not None and math.isfinite(seconds) else None


def with_retries(
    call: Callable[[], T],
    *,
    what: str,
    deadline: Deadline | None = None,
    on_wait: WaitHook | None = None,
) -> T:
    """Run `call`, retrying retryable EmbeddingErrors.

    1. A 429 that says how long to wait (Retry-After) is back-pressure, not failure: it waits
       that long (plus up to a tenth, so concurrent requests spread out) and uses up no retry,
       until EMBEDDING_RATE_LIMIT_WAIT seconds of such waits in one call.
    2. Any other retryable error waits EMBEDDING_RETRY_BACKOFF doubled each attempt, with full
       jitter, up to EMBEDDING_MAX_RETRIES times.
    3. Anything not retryable (400/401/403/404, a wrong dimension) is raised at once.
    4. With a deadline, a wait that would end past it is not started: the caller gets a
       ProviderTimeout that names the deadline and the provider's last error.
    5. `on_wait(error, seconds)` hears of every wait before it starts (a job writes its heartbeat
       and the provider's error there, and may raise to stop waiting).
    """
    attempt = 0
    rate_limited_for = 0.0
    while True:
        try:
            return call()
        except EmbeddingError as error:
            if not error.retryable:
                raise
            asked = getattr(error, "retry_after", None) or 0.0
            if asked > 0 and rate_limited_for + asked <= settings.EMBEDDING_RATE_LIMIT_WAIT:
                wait = min(asked, MAX_RETRY_AFTER) * random.uniform(1.0, 1.1)
                rate_limited_for += wait
            elif attempt < settings.EMBEDDING_MAX_RETRIES:
                backoff = settings.EMBEDDING_RETRY_BACKOFF * (2**attempt)
                wait = random.uniform(backoff / 2, backoff)
                attempt += 1
            else:
                raise
            if deadline is not None and deadline.remaining() < wait:
                raise deadline.expired(error) from None
            log.warning("%s: %s; retrying in %.2fs", what, error, wait)
            if on_wait is not None:
                on_wait(error, wait)
            time.sleep(wait)


class Deadline:
    """The total time a caller (a web request) gives a provider, retries and waits included."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.ends = time.monotonic() + seconds

    def remaining(self) -> float:
        return self.ends - time.monotonic()

    def request_timeout(self, timeout: float) -> float:
        """One request's timeout: the provider's own, cut to what is left of the deadline."""
        left = self.remaining()
        if left <= 0:
            raise self.expired(None)
        return min(timeout, left)

    def expired(self, error: EmbeddingError | None) -> ProviderTimeout:
        last = f" (last answer: {error})" if error is not None else ""
        return ProviderTimeout(
            f"no answer within the {self.seconds:g} s a page waits for a provider{last}",
            retryable=False,
        )


WaitHook = Callable[[EmbeddingError, float], None]


@dataclass(frozen=True)
class Readiness:
    """Whether a model can run now, and why, for the settings page."""

    ok: bool
    note: str


class Provider:
    """Embeds texts with one model. Subclasses implement `_embed_batch` (one HTTP call site or one
    local call) and may override `count_tokens` / `truncate` with the model's own tokenizer.

    A subclass also carries what the rest of the product knows of it: its `label` on the settings
    page, the `credentials` it reads (which become fields of the connection form), a guess of its
    `throughput` before any job is measured, and its `readiness`."""

    label: ClassVar[str] = ""
    credentials: ClassVar[tuple[CredentialField, ...]] = ()
    # Items a second a switch's estimate assumes until a job of the provider has finished;
    # None: no guess (the estimate then names no duration).
    throughput: ClassVar[float | None] = None

    # Per-request limits; remote providers set their service's own. A request also carries at
    # most EMBEDDING_BATCH_SIZE texts, so one failure costs little and progress moves steadily.
    max_batch_inputs = 2048
    max_batch_tokens = 0  # 0: no token budget per request
    remote = False
    exact_tokens = False

    def __init__(self, model: ResolvedModel) -> None:
        self.model = model
        self.key = model.key
        self.dimensions = model.dimensions
        self.max_tokens = model.spec.max_tokens
        self.tokenizer_key = model.spec.tokenizer or "estimate:chars/4"
        self.tokens_used = 0  # as reported by the provider, when it reports usage
        self._lock = threading.Lock()
        self._local = threading.local()
        self.deadline: Deadline | None = None
        self.on_wait: WaitHook | None = None

    def readiness(self) -> Readiness:
        """Can this model run now? A quick look that never waits long: here, whether every key
        it needs is set, on the page or in the environment. A provider with more to look at
        (a model pulled, a package installed) says so in its own."""
        secrets = [field for field in self.credentials if field.secret]
        if not secrets:
            return Readiness(True, "always available")
        sources = [credential(field).source for field in secrets]
        if not all(sources):
            return Readiness(False, "no API key")
        return Readiness(True, f"API key from the {' and the '.join(dict.fromkeys(sources))}")

    def within(self, seconds: float) -> Self:
        """Give every call from now on `seconds` in all, retries and waits included."""
        self.deadline = Deadline(seconds)
        return self

    def request_timeout(self) -> float:
        """The timeout of one HTTP request: EMBEDDING_TIMEOUT, or less when a deadline is near."""
        timeout = float(settings.EMBEDDING_TIMEOUT)
        return self.deadline.request_timeout(timeout) if self.deadline else timeout

    def timed_out(self, who: str) -> ProviderTimeout:
        """A request's timeout, named: the deadline's when that is what ran out."""
        if self.deadline is not None and self.deadline.remaining() <= 0.05:
            return self.deadline.expired(None)
        return ProviderTimeout(f"{who} did not answer within {settings.EMBEDDING_TIMEOUT:g} s")

    def embed(self, texts: list[str], *, query: bool = False) -> list[list[float]]:
        """Embed any number of texts (document or query side): each truncated to the model's limit
        with its prefix, sent in batches (concurrently for remote providers), returned in input
        order, L2-normalised and checked for the model's dimension."""
        vectors: list[list[float]] = self.embed_array(texts, query=query).tolist()
        return vectors

    def embed_array(self, texts: list[str], *, query: bool = False) -> np.ndarray:
        """`embed` as one float64 matrix, a row per text: what a job stores, with no Python float
        made per number on the way."""
        if any(not text or not text.strip() for text in texts):
            raise EmbeddingError("cannot embed an empty text; items without text are skipped")
        prefix = self.model.spec.query_prefix if query else self.model.spec.document_prefix
        prepared = [self.truncate(prefix + text) for text in texts]
        batches = list(self._batches(prepared))
        workers = min(settings.EMBEDDING_CONCURRENCY, len(batches)) if self.remote else 1
        if workers <= 1:
            results = [self._embed_with_retries(batch, query) for batch in batches]
        else:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                results = list(
                    pool.map(lambda batch: self._embed_with_retries(batch, query), batches)
                )
        if not results:
            return np.empty((0, self.dimensions))
        return results[0] if len(results) == 1 else np.vstack(results)

    def check(self) -> float:
        """Embed a probe; return the latency in milliseconds or raise the named error."""
        started = time.perf_counter()
        self.embed(["connection check"], query=True)
        return (time.perf_counter() - started) * 1000

    def count_tokens(self, text: str) -> int:
        # About four characters a token in English, for models without a tokenizer here.
        return max(1, math.ceil(len(text) / 4)) if text else 0

    def truncate(self, text: str) -> str:
        limit = self.max_tokens * 4
        return text[:limit] if self.max_tokens and len(text) > limit else text

    def _embed_batch(self, texts: list[str], *, query: bool) -> Vectors:
        raise NotImplementedError

    def _add_tokens(self, count: int) -> None:
        with self._lock:  # batches report from several threads
            self.tokens_used += count

    def _session(self) -> requests.Session:
        """One HTTP session per thread: connections are reused, and no session is shared
        between the concurrent requests of one embed call."""
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def _batches(self, texts: list[str]) -> Iterator[list[str]]:
        """Consecutive slices within max_batch_inputs and max_batch_tokens (order kept)."""
        batch: list[str] = []
        tokens = 0
        max_inputs = min(self.max_batch_inputs, settings.EMBEDDING_BATCH_SIZE)
        for text in texts:
            cost = self.count_tokens(text) if self.max_batch_tokens else 0
            full = len(batch) >= max_inputs or (
                self.max_batch_tokens and tokens + cost > self.max_batch_tokens
            )
            if batch and full:
                yield batch
                batch, tokens = [], 0
            batch.append(text)
            tokens += cost
        if batch:
            yield batch

    def _embed_with_retries(self, texts: list[str], query: bool) -> np.ndarray:
        vectors = with_retries(
            lambda: self._embed_batch(texts, query=query),
            what=self.key,
            deadline=self.deadline,
            on_wait=self.on_wait,
        )
        if len(vectors) != len(texts):
            raise InvalidResponse(
                f"{self.key} returned {len(vectors)} vectors for {len(texts)} texts"
            )
        return self._checked(vectors)

    def _checked(self, vectors: Vectors) -> np.ndarray:
        """The batch as a float64 matrix of unit rows, once each row has the model's dimension
        and a finite, non-zero length."""
        not_vectors = InvalidResponse(f"{self.key} returned something that is not a vector")
        try:
            if isinstance(vectors, np.ndarray) and vectors.ndim != 2:
                raise TypeError
            wrong = next((len(v) for v in vectors if len(v) != self.dimensions), None)
        except TypeError:
            raise not_vectors from None
        if wrong is not None:
            raise InvalidResponse(
                f"{self.key} returned a vector of {wrong} dimensions, expected {self.dimensions}"
            )
        try:
            matrix = np.asarray(vectors, dtype=np.float64).reshape(-1, self.dimensions)
        except (TypeError, ValueError):
            raise not_vectors from None
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        if not (np.isfinite(norms).all() and norms.all()):
            raise InvalidResponse(f"{self.key} returned an empty or invalid vector")
        normalised: np.ndarray = matrix / norms
        return normalised
