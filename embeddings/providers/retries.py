"""Bounded retries with back-off, back-pressure from 429s, and the total deadline a page gives a
provider."""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings

from embeddings.providers.errors import EmbeddingError, ProviderTimeout, RateLimited

log = logging.getLogger(__name__)

T = TypeVar("T")

# A server may ask for a long pause; past this we would rather fail the batch and let the job retry.
MAX_RETRY_AFTER = 120.0
# The longest pause between two 429s that did not say how long to wait.
MAX_RATE_LIMIT_BACKOFF = 60.0


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

    1. A 429 is back-pressure, not failure: it waits what the server asked (Retry-After, plus up
       to a tenth so concurrent requests spread out) or, when it did not say, EMBEDDING_RETRY_BACKOFF
       doubled with each 429 in a row (full jitter, at most MAX_RATE_LIMIT_BACKOFF), and uses up
       no retry, until EMBEDDING_RATE_LIMIT_WAIT seconds of such waits in one call.
    2. Any other retryable error waits EMBEDDING_RETRY_BACKOFF doubled each attempt, with full
       jitter, up to EMBEDDING_MAX_RETRIES times.
    3. Anything not retryable (400/401/403/404, a wrong dimension) is raised at once.
    4. With a deadline, a wait that would end past it is not started: the caller gets a
       ProviderTimeout that names the deadline and the provider's last error.
    5. `on_wait(error, seconds)` hears of every wait before it starts (a job writes its heartbeat
       and the provider's error there, and may raise to stop waiting).
    """
    attempt = 0
    throttled = 0
    rate_limited_for = 0.0
    while True:
        try:
            return call()
        except EmbeddingError as error:
            if not error.retryable:
                raise
            wait = _rate_limit_wait(error, throttled) if isinstance(error, RateLimited) else 0.0
            if wait and rate_limited_for + wait <= settings.EMBEDDING_RATE_LIMIT_WAIT:
                rate_limited_for += wait
                throttled += 1
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


def _rate_limit_wait(error: RateLimited, throttled: int) -> float:
    """How long to wait after a 429, the `throttled`-th in a row before it."""
    if error.retry_after:
        return min(error.retry_after, MAX_RETRY_AFTER) * random.uniform(1.0, 1.1)
    ceiling = min(settings.EMBEDDING_RETRY_BACKOFF * (2**throttled), MAX_RATE_LIMIT_BACKOFF)
    # Never no wait at all: the budget of waits is what bounds a run of 429s.
    return max(random.uniform(ceiling / 2, ceiling), 0.05)


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
