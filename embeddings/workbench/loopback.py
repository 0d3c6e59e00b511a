"""An OpenAI-compatible embeddings endpoint on 127.0.0.1 that answers after a set latency, as a
remote API does: what `bench_pipeline --latency-ms` points its workers at. Benchmarks only; it
never leaves this machine and checks nothing but the request's shape."""

from __future__ import annotations

import base64
import json
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np


class LoopbackEmbeddings:
    def __init__(self, latency_ms: float) -> None:
        self.latency = latency_ms / 1000
        self.requests = 0
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

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                time.sleep(owner.latency)
                with owner._lock:
                    owner.requests += 1
                payload = json.dumps(_answer(body)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return  # quiet: thousands of requests

        return Handler


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
