"""What every provider shares: batching by count and by tokens, concurrent requests, bounded
retries with back-off (`retries`), truncation, the check of every answer before it is used (`check_answer`),
the address rule, deadlines and the cap on calls made for pages (`on_the_wire`). A provider module
only says how one batch goes over its wire (`_embed_batch`) and how it counts tokens."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Self
from urllib.parse import urlsplit

import numpy as np
from django.conf import settings

import reclio_admin.outbound.wire as wire
from embeddings.providers.credentials import CredentialField, credential
from embeddings.providers.errors import (
    AddressNotAllowed,
    EmbeddingError,
    InvalidResponse,
    ProviderBusy,
    ProviderTimeout,
    ProviderUnreachable,
    Redirected,
)
from embeddings.providers.pacing import Heard, limits_of
from embeddings.providers.retries import Deadline, WaitHook, with_retries
from reclio_admin.outbound import pacing as outbound
from reclio_admin.outbound.addresses import AddressRefused, Unresolved, check_provider_url

if TYPE_CHECKING:
    from embeddings.registry import ResolvedModel

log = logging.getLogger(__name__)


# What `_embed_batch` may return: one list of floats per text, or a matrix with a row per text
# (a provider that decodes binary vectors or runs a model keeps them as an array).
Vectors = list[list[float]] | np.ndarray


@dataclass(frozen=True)
class Answer:
    """What one request brought back: the vectors, and the index each one says it belongs to
    when the wire format numbers them (OpenAI's does)."""

    vectors: Vectors
    indexes: list[object] | None = None


def check_answer(answer: Answer, *, texts: int, dimensions: int, who: str) -> np.ndarray:
    """The answer to `texts` texts as a float64 matrix of unit rows in input order, or the named
    InvalidResponse; nothing is stored from an answer that fails here.

    1. Numbered answers: every index a whole number below `texts`, each once, every text's there;
       rows are put in index order.
    2. One vector per text, each of `dimensions` numbers, all finite, none of length zero.
    """
    vectors = answer.vectors
    if answer.indexes is not None:
        vectors = _in_index_order(answer, texts, who)
    if len(vectors) != texts:
        raise InvalidResponse(
            f"{who} answered {_count(len(vectors), 'vector')} for {_count(texts, 'text')}"
        )
    not_vectors = InvalidResponse(f"{who} answered something that is not a vector")
    try:
        if isinstance(vectors, np.ndarray) and vectors.ndim != 2:
            raise TypeError
        wrong = next((len(v) for v in vectors if len(v) != dimensions), None)
    except TypeError:
        raise not_vectors from None
    if wrong is not None:
        raise InvalidResponse(
            f"{who} answered a vector of {wrong} dimensions, expected {dimensions}"
        )
    try:
        matrix = np.asarray(vectors, dtype=np.float64).reshape(-1, dimensions)
    except (TypeError, ValueError):
        raise not_vectors from None
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    if not (np.isfinite(norms).all() and norms.all()):
        raise InvalidResponse(f"{who} answered an empty or invalid vector")
    normalised: np.ndarray = matrix / norms
    return normalised


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}{'es' if noun.endswith('x') else 's'}"


def _in_index_order(answer: Answer, texts: int, who: str) -> Vectors:
    indexes = answer.indexes or []
    if len(indexes) != len(answer.vectors):
        raise InvalidResponse(
            f"{who} answered {len(indexes)} indexes for {len(answer.vectors)} vectors"
        )
    seen: set[int] = set()
    for index in indexes:
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < texts:
            raise InvalidResponse(f"{who} answered a vector for index {index!r} of {texts} texts")
        if index in seen:
            raise InvalidResponse(f"{who} answered index {index} twice")
        seen.add(index)
    if len(seen) != texts:
        missing = min(set(range(texts)) - seen)
        raise InvalidResponse(
            f"{who} answered {_count(len(seen), 'vector')} for {_count(texts, 'text')} "
            f"(none for index {missing})"
        )
    order = np.argsort(np.asarray(indexes, dtype=np.int64), kind="stable")
    if isinstance(answer.vectors, np.ndarray):
        return answer.vectors[order]
    return [answer.vectors[i] for i in order]


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
    # The base URL or host a remote provider sends its requests to (set by its __init__).
    address = ""

    def __init__(self, model: ResolvedModel) -> None:
        self.model = model
        self.key = model.key
        self.dimensions = model.dimensions
        self.max_tokens = model.spec.max_tokens
        self.tokenizer_key = model.spec.tokenizer or "estimate:chars/4"
        self.tokens_used = 0  # as reported by the provider, when it reports usage
        self._lock = threading.Lock()
        self._approved = ""  # the address the outbound-address rule last approved
        self.deadline: Deadline | None = None
        self.on_wait: WaitHook | None = None
        self.heard = Heard()  # what its requests heard, until the embed call reports it
        self._sending = threading.local()  # the tokens of the batch a thread is sending

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

    @contextmanager
    def on_the_wire(self) -> Iterator[None]:
        """Around a provider's one HTTP call site.

        1. The provider's address passes the outbound-address rule before anything is sent
           (once per address; every connection is checked again as it is dialled).
        2. A call for a page (one with a deadline) takes one of PROVIDER_PAGE_CALLS places in
           this process, or is refused at once with ProviderBusy: a slow provider holds at most
           that many of the web server's threads.
        3. Everything the HTTP client does inside ends within `request_timeout()` in all.
        """
        if self.address and self._approved != self.address:
            try:
                check_provider_url(self.address)
            except Unresolved as unresolved:
                # DNS may answer on the next try: a batch waits and retries as for a refused
                # connection.
                raise ProviderUnreachable(f"cannot reach {self.label}: {unresolved}") from None
            except AddressRefused as refused:
                # The reason names the host; the URL itself may hold what does not belong in a
                # message (a password before an @).
                raise AddressNotAllowed(
                    f"{self.label or self.key}'s address is not allowed: {refused}"
                ) from None
            self._approved = self.address
        place = _page_call(self) if self.deadline is not None else nullcontext()
        with place, wire.deadline(self.request_timeout()):
            wire.forget_answer()
            started = time.monotonic()
            try:
                yield
            finally:
                self._note(time.monotonic() - started)

    def _note(self, seconds: float) -> None:
        """Keep what one request heard: its status (or that none came), its time, its tokens,
        and the rate-limit headers of its answer."""
        answer = wire.last_answer()
        status = str(answer[0]) if answer else "no answer"
        tokens = getattr(self._sending, "tokens", 0)
        self.heard.add(outbound.Call(status, seconds, tokens), answer[1] if answer else None)

    def redirected(self, status: int, location: str, setting: str) -> Redirected:
        """A 3xx, named: where it pointed (scheme and host only) and what to change instead."""
        target = urlsplit(location)
        where = f" to {target.scheme}://{target.hostname}" if target.hostname else ""
        return Redirected(
            f"{self.label} answered with a redirect (HTTP {status}){where}; redirects are not "
            f"followed: set the {setting} to the address it points at"
        )

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
        starts, tokens = self._slots(batches)
        workers = min(settings.EMBEDDING_CONCURRENCY, len(batches)) if self.remote else 1

        def send(number: int) -> np.ndarray:
            return self._send_at(starts[number], batches[number], tokens[number], query)

        try:
            if workers <= 1:
                results = [send(number) for number in range(len(batches))]
            else:
                with ThreadPoolExecutor(max_workers=workers) as pool:
                    results = list(pool.map(send, range(len(batches))))
        finally:
            self._report()
        if not results:
            return np.empty((0, self.dimensions))
        return results[0] if len(results) == 1 else np.vstack(results)

    def limits(self) -> outbound.Limits:
        """The requests and tokens a minute configured for this provider (page, else
        environment)."""
        return limits_of(self.credentials)

    def _slots(self, batches: list[list[str]]) -> tuple[list[float], list[int]]:
        """When each batch's request may start (on the monotonic clock), and its tokens.

        A remote provider takes one slot for all of them from its budget shared with every
        worker (`reclio_admin.outbound.pacing`), from this thread: the request threads touch no
        database. A call for a page does not wait past its deadline for a slot.
        """
        if not self.remote or not batches:
            return [0.0] * len(batches), [0] * len(batches)
        tokens = [sum(self.count_tokens(text) for text in batch) for batch in batches]
        max_wait = self.deadline.remaining() if self.deadline is not None else None
        try:
            slot = outbound.reserve(
                self.model.provider,
                requests=len(batches),
                tokens=sum(tokens),
                limits=self.limits(),
                max_wait=max_wait,
            )
        except outbound.QuotaWait as waiting:
            raise ProviderTimeout(
                f"{self.label}'s quota allows the next request in {waiting.seconds:.1f} s, "
                "past what a page waits",
                retryable=False,
            ) from None
        now = time.monotonic()
        return [now + start for start in slot.starts(len(batches))], tokens

    def _send_at(self, start: float, batch: list[str], tokens: int, query: bool) -> np.ndarray:
        wait = start - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self._sending.tokens = tokens
        return self._embed_with_retries(batch, query)

    def _report(self) -> None:
        """Count the requests this call sent, and keep the limits their answers announced."""
        if not self.remote:
            return
        calls, announced = self.heard.take()
        outbound.record(self.model.provider, calls)
        if announced is not None:
            outbound.learn(self.model.provider, announced)

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

    def _embed_batch(self, texts: list[str], *, query: bool) -> Vectors | Answer:
        raise NotImplementedError

    def _add_tokens(self, count: int) -> None:
        with self._lock:  # batches report from several threads
            self.tokens_used += count

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
        answer = vectors if isinstance(vectors, Answer) else Answer(vectors)
        return check_answer(answer, texts=len(texts), dimensions=self.dimensions, who=self.key)


_page_places: dict[int, threading.BoundedSemaphore] = {}
_page_places_lock = threading.Lock()


@contextmanager
def _page_call(provider: Provider) -> Iterator[None]:
    """One of PROVIDER_PAGE_CALLS places for a provider call made for a page, or ProviderBusy."""
    size = settings.PROVIDER_PAGE_CALLS
    with _page_places_lock:
        places = _page_places.setdefault(size, threading.BoundedSemaphore(size))
    if not places.acquire(blocking=False):
        raise ProviderBusy(
            f"{provider.label or provider.key} not asked: {size} page requests of this server "
            "are already waiting on providers; try again in a few seconds"
        )
    try:
        yield
    finally:
        places.release()
