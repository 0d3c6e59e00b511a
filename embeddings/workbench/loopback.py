"""An OpenAI-compatible embeddings endpoint on 127.0.0.1 that answers after a set latency, as a
remote API does: what `bench_pipeline --latency-ms` points its workers at. With a quota it
answers 429 past that many requests a minute and sends OpenAI's rate-limit headers. Benchmarks
only; it never leaves this machine and checks nothing but the request's shape."""

from __future__ import annotations

import base64
import json
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np


class Quota:
    """Requests a minute as OpenAI enforces them: quantized to the second (600 a minute allows
    10 in any second, the allowance refilled continuously) within the minute's own allowance,
    and announced in every answer's `x-ratelimit-*-requests` headers."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self.rate = per_minute / 60  # allowance refilled each second
        self.capacity = max(1.0, self.rate)
        self.second = self.capacity
        self.minute = float(per_minute)
        self._at = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> tuple[bool, dict[str, str]]:
        """Whether one more request is allowed now (it is then counted), and the headers."""
        with self._lock:
            now = time.monotonic()
            refill = (now - self._at) * self.rate
            self._at = now
            self.second = min(self.capacity, self.second + refill)
            self.minute = min(float(self.per_minute), self.minute + refill)
            allowed = self.second >= 1 and self.minute >= 1
            if allowed:
                self.second -= 1
                self.minute -= 1
            missing = self.per_minute - self.minute
            headers = {
                "x-ratelimit-limit-requests": str(self.per_minute),
                "x-ratelimit-remaining-requests": str(int(self.minute)),
                "x-ratelimit-reset-requests": f"{missing / self.rate * 1000:.0f}ms",
                "x-ratelimit-limit-tokens": "100000000",
                "x-ratelimit-remaining-tokens": "100000000",
                "x-ratelimit-reset-tokens": "0s",
            }
        return allowed, headers


class LoopbackEmbeddings:
    def __init__(self, latency_ms: float, quota_rpm: int | None = None) -> None:
        self.latency = latency_ms / 1000
        self.quota = Quota(quota_rpm) if quota_rpm else None
        self.requests = 0  # answered, 429s included
        self.rate_limited = 0  # 429s
        self.accepted_at: list[float] = []  # when each request that got vectors arrived
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def start(self) -> LoopbackEmbeddings:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def reset_counts(self) -> None:
        with self._lock:
            self.requests, self.rate_limited, self.accepted_at = 0, 0, []

    def requests_per_minute(self) -> float:
        """The accepted requests' rate, from the first one's arrival to the last one's."""
        with self._lock:
            times = sorted(self.accepted_at)
        if len(times) < 2 or times[-1] <= times[0]:
            return 0.0
        return (len(times) - 1) / (times[-1] - times[0]) * 60

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                arrived = time.monotonic()
                allowed, headers = owner.quota.take() if owner.quota else (True, {})
                with owner._lock:
                    owner.requests += 1
                    owner.rate_limited += not allowed
                    if allowed:
                        owner.accepted_at.append(arrived)
                if allowed:
                    time.sleep(owner.latency)
                    status, payload = 200, json.dumps(_answer(body)).encode()
                else:
                    status, payload = 429, _RATE_LIMITED
                    headers["retry-after"] = "1"
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return  # quiet: thousands of requests

        return Handler


_RATE_LIMITED = json.dumps(
    {
        "error": {
            "message": "Rate limit reached for requests per min (RPM).",
            "type": "requests",
            "param": None,
            "code": "rate_limit_exceeded",
        }
    }
).encode()


def seeded_vectors(texts: list[str], dims: int) -> np.ndarray:
    """Random unit vectors, the same for the same texts: next to no cost, nothing kept."""
    seed = zlib.crc32("\x00".join(texts).encode())
    vectors = np.random.default_rng(seed).standard_normal((len(texts), dims), dtype=np.float32)
    unit: np.ndarray = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    return unit


def _answer(body: dict[str, Any]) -> dict[str, Any]:
    """Vectors for the inputs, in the format the request asked for."""
    inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
    vectors = seeded_vectors([str(i) for i in inputs], int(body.get("dimensions") or 1536))
    as_base64 = body.get("encoding_format") == "base64"
    data = [
        {
            "object": "embedding",
            "index": i,
            "embedding": base64.b64encode(v.astype("<f4").tobytes()).decode()
            if as_base64
            else v.tolist(),
        }
        for i, v in enumerate(vectors)
    ]
    usage = {"prompt_tokens": 0, "total_tokens": 0}
    return {"object": "list", "data": data, "model": body.get("model", ""), "usage": usage}
