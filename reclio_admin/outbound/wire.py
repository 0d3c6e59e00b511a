"""The one way the server reaches an outside service (an embedding provider, TMDb): an HTTP client
(httpx, which the openai client is built on) that

- connects only to addresses the outbound-address rule approved, checked on the address it is
  about to dial, after DNS, and dials that very address;
- never follows a redirect, so no request (and no key in its headers) goes anywhere nobody
  checked;
- bounds every connect, read and write by the call's total deadline (`deadline`): a server that
  answers one byte a second is cut off when the deadline passes, not when it stops dripping.

Every provider's one HTTP call site, and TMDb's, runs inside `deadline(...)` with `client()`."""

from __future__ import annotations

import os
import ssl
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import httpcore2
import httpx2

from reclio_admin.outbound.addresses import RESOLVE_SECONDS, AddressRefused, approved_addresses

# A write goes out in slices this large, each bounded by what is left of the deadline, so a
# server that reads slowly cannot hold a request past it either.
WRITE_SLICE = 16 * 1024
MAX_CONNECTIONS = 32

_local = threading.local()


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Everything the client does on this thread inside the block ends within `seconds` from
    now, in all: connecting, the TLS handshake's start, sending, the first byte and the whole
    body. An inner deadline never extends an outer one."""
    outer: float | None = getattr(_local, "ends", None)
    ends = time.monotonic() + seconds
    _local.ends = ends if outer is None else min(outer, ends)
    try:
        yield
    finally:
        _local.ends = outer


def _within(timeout: float | None, expired: type[httpcore2.TimeoutException]) -> float | None:
    """One operation's timeout: its own, cut to what is left of the deadline (which raises
    `expired` once it has passed)."""
    ends: float | None = getattr(_local, "ends", None)
    if ends is None:
        return timeout
    left = ends - time.monotonic()
    if left <= 0:
        raise expired("the call's deadline passed")
    return left if timeout is None else min(timeout, left)


class _Stream(httpcore2.NetworkStream):
    def __init__(self, inner: httpcore2.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _within(timeout, httpcore2.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        for start in range(0, len(buffer), WRITE_SLICE):
            piece = buffer[start : start + WRITE_SLICE]
            self._inner.write(piece, _within(timeout, httpcore2.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore2.NetworkStream:
        left = _within(timeout, httpcore2.ConnectTimeout)
        return _Stream(self._inner.start_tls(ssl_context, server_hostname, left))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _Backend(httpcore2.SyncBackend):
    """Dials only approved addresses (TLS still checks the certificate against the name)."""

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.NetworkStream:
        try:
            left = _within(timeout, httpcore2.ConnectTimeout)
            addresses = approved_addresses(
                host, within=min(left or RESOLVE_SECONDS, RESOLVE_SECONDS)
            )
        except AddressRefused as refused:
            raise httpcore2.ConnectError(f"not connecting: {refused}") from None
        failure: Exception = httpcore2.ConnectError(f"{host} has no address")
        for address in addresses:
            try:
                stream = super().connect_tcp(
                    str(address),
                    port,
                    _within(timeout, httpcore2.ConnectTimeout),
                    local_address,
                    socket_options,
                )
            except httpcore2.ConnectError as error:
                failure = error
            else:
                return _Stream(stream)
        raise failure


class _Transport(httpx2.HTTPTransport):
    def __init__(self) -> None:
        # One TLS context for both pools below: loading the CA bundle costs about 0.1 s.
        ssl_context = httpx2.create_ssl_context(trust_env=False)
        super().__init__(verify=ssl_context, trust_env=False)
        # httpx builds its pool without a way to name the network backend; this is the same
        # pool with the guarded one. No proxy from the environment: the rule checks the
        # service's own address, which a proxy would hide.
        self._pool = httpcore2.ConnectionPool(
            ssl_context=ssl_context,
            max_connections=MAX_CONNECTIONS,
            max_keepalive_connections=MAX_CONNECTIONS,
            keepalive_expiry=5.0,
            network_backend=_Backend(),
        )


_client: httpx2.Client | None = None
_client_lock = threading.Lock()


def client() -> httpx2.Client:
    """The process's one HTTP client for outside services (connections are reused across calls and
    threads). Requests made with it never follow a redirect."""
    global _client
    with _client_lock:
        if _client is None:
            _client = httpx2.Client(
                transport=_Transport(),
                follow_redirects=False,
                trust_env=False,
                event_hooks={"response": [_heard]},
            )
        return _client


def _heard(response: httpx2.Response) -> None:
    # What the provider's own call site cannot always see (the openai client keeps a failed
    # answer's headers to itself until it raises): the status and headers, for pacing.
    _local.answer = (response.status_code, response.headers)


def last_answer() -> tuple[int, Mapping[str, str]] | None:
    """The status and headers of the last answer this thread received, if any since
    `forget_answer()`."""
    answer: tuple[int, Mapping[str, str]] | None = getattr(_local, "answer", None)
    return answer


def forget_answer() -> None:
    _local.answer = None


def _forget_client() -> None:
    # A forked worker must not share its parent's open connections (nor a lock held at the fork).
    global _client, _client_lock
    _client = None
    _client_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_client)
