"""The part every loopback fake shares: a threaded HTTP server on 127.0.0.1, a script of
responses to give one call at a time, and a record of what the product sent.

A script entry is a string:
  "ok"                         answer like the real service
  "400" "401" "403" "404" "500" "503"   that status, with the provider's own error body
  "429" / "429:retry-after=1"  rate limited, optionally with a Retry-After header (seconds)
  "429:insufficient_quota"     (OpenAI) the account's quota is used up: a 429 not worth retrying
  "malformed"                  a 200 whose body is not JSON
  "wrong-dimension"            a 200 whose vectors have one dimension too few
  "slow" / "slow:3"            answer "ok" only after that many seconds (default 30): a timeout
  "drip" / "drip:0.5"          answer "ok" at once, then its body one byte every that many
                               seconds (default 1) for up to DRIP_SECONDS, then the rest: only
                               a total deadline cuts it off
  "short"                      a 200 with one vector fewer than the texts
  "duplicate-index"            (OpenAI) a 200 whose last vector claims the first one's index
  "redirect:http://host:port/path"   a 307 to that address
When the script runs out, every call gets `default` ("ok" unless `fail_forever` changed it).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

import numpy as np

# Short timeouts and back-offs, so that failure tests stay fast.
FAST_NETWORK: dict[str, float | int] = {
    "EMBEDDING_TIMEOUT": 5.0,
    "EMBEDDING_MAX_RETRIES": 2,
    "EMBEDDING_RETRY_BACKOFF": 0.01,
}


# How long a dripping answer drips before it sends the rest: longer than any deadline a test
# sets, short enough that a client without one fails the test instead of hanging it.
DRIP_SECONDS = 12.0


def fake_vector(text: str, dimensions: int) -> list[float]:
    """A unit vector seeded by the text: the same text always gets the same vector."""
    seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")
    values = np.random.default_rng(seed).standard_normal(dimensions)
    return (values / np.linalg.norm(values)).tolist()


@dataclass
class Action:
    # "ok", "status", "malformed", "wrong-dimension", "slow", "drip", "short", "duplicate-index",
    # "redirect"
    kind: str
    status: int = 200
    retry_after: str = ""
    code: str = ""  # a provider-specific error code, e.g. insufficient_quota
    delay: float = 0.0
    location: str = ""

    @classmethod
    def parse(cls, entry: str | int) -> Action:
        text = str(entry).strip().lower()
        head, _, arg = text.partition(":")
        if head in ("ok", "malformed", "wrong-dimension", "short", "duplicate-index"):
            return cls(head)
        if head == "slow":
            return cls("slow", delay=float(arg) if arg else 30.0)
        if head == "drip":
            return cls("drip", delay=float(arg) if arg else 1.0)
        if head == "redirect":
            return cls("redirect", status=307, location=arg)
        if head.isdigit():
            if arg.startswith("retry-after="):
                return cls("status", status=int(head), retry_after=arg.removeprefix("retry-after="))
            return cls("status", status=int(head), code=arg)
        raise ValueError(f"unknown fake response {entry!r}")


@dataclass
class Received:
    """One request as the fake saw it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    inputs: list[str] = field(default_factory=list)


class FakeServer:
    """Subclasses implement `handle(request, action) -> (status, headers, body bytes)`."""

    name = "fake"
    retry_after_header = True  # Google says it in the error body instead

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.in_flight = 0
        self.max_in_flight = 0  # the most requests it was answering at once
        self.default = "ok"
        self._script: deque[str] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # --- the test-facing API ------------------------------------------------------------------
    @property
    def url(self) -> str:
        port = self._server.server_address[1]
        return f"http://127.0.0.1:{port}"

    def script(self, entries: list[str]) -> None:
        """Answer the next calls with these entries, in order (see the module docstring)."""
        with self._lock:
            self._script.extend(entries)

    def fail_forever(self, entry: str | int = 500) -> None:
        """Every call from now on (after any scripted ones) gets this answer."""
        self.default = str(entry)

    @property
    def inputs(self) -> list[str]:
        """Every text received, across all requests, in arrival order."""
        return [text for request in self.requests for text in request.inputs]

    @property
    def calls(self) -> int:
        return len(self.requests)

    @property
    def env(self) -> dict[str, str]:
        """Environment variables that point a separate process (a worker) at this fake."""
        fast = {name: str(value) for name, value in FAST_NETWORK.items()}
        return {**fast, **self.own_env()}

    def own_env(self) -> dict[str, str]:
        return {}

    def save_to_settings_row(self) -> None:
        """Save this fake's address and key as an admin would on the settings page."""

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes any "slow" handler still sleeping
        self._server.shutdown()
        self._server.server_close()

    # --- subclass hooks ---------------------------------------------------------------------------
    def inputs_of(self, method: str, path: str, body: Any) -> list[str]:
        return []

    def scripted(self, request: Received) -> bool:
        """Whether this request takes the next script entry (side calls like a model list don't)."""
        return True

    def handle(self, request: Received, action: Action) -> tuple[int, dict[str, str], bytes]:
        raise NotImplementedError

    # --- plumbing ---------------------------------------------------------------------------------
    def _next_action(self) -> Action:
        with self._lock:
            entry = self._script.popleft() if self._script else self.default
        return Action.parse(entry)

    def _respond(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        request = Received(
            method=handler.command,
            path=parts.path,
            query=parse_qs(parts.query),
            headers={k.lower(): v for k, v in handler.headers.items()},
            body=body,
            inputs=self.inputs_of(handler.command, parts.path, body),
        )
        with self._lock:
            self.requests.append(request)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            self._answer(handler, request)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _answer(self, handler: BaseHTTPRequestHandler, request: Received) -> None:
        action = self._next_action() if self.scripted(request) else Action("ok")
        if action.kind == "slow":
            if self._stopping.wait(action.delay):
                return
            action = Action("ok")
        if action.kind == "malformed":
            status, headers, payload = (
                200,
                {"Content-Type": "application/json"},
                b'{"data": [ {"emb',
            )
        elif action.kind == "redirect":
            status, headers, payload = 307, {"Location": action.location}, b""
        else:
            status, headers, payload = self.handle(request, action)
        if action.retry_after and self.retry_after_header:
            headers["Retry-After"] = action.retry_after
        try:
            handler.send_response(status)
            for name, value in headers.items():
                handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            if action.kind == "drip":
                self._drip(handler, payload, action.delay)
            else:
                handler.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test): nothing left to tell it

    def _drip(self, handler: BaseHTTPRequestHandler, payload: bytes, every: float) -> None:
        """The body a byte at a time, `every` seconds apart, until the client hangs up, the fake
        stops or DRIP_SECONDS have passed (then the rest at once)."""
        sent = 0
        for sent in range(min(len(payload), int(DRIP_SECONDS / every))):
            handler.wfile.write(payload[sent : sent + 1])
            handler.wfile.flush()
            if self._stopping.wait(every):
                return
        handler.wfile.write(payload[sent + 1 :])

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                fake._respond(self)

            def do_POST(self) -> None:
                fake._respond(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean

        return Handler


def json_body(payload: Any) -> bytes:
    return json.dumps(payload).encode("utf-8")


JSON = {"Content-Type": "application/json"}
