"""A TMDb API v3 on 127.0.0.1 serving `titles` synthetic films, every one of them in today's
change list, each answered after a set latency: what `bench_sync_catalog` points the sync at.
Like TMDb it answers 429 to a request past `limit_per_second` in the last second, and counts
them. Benchmarks only; it never leaves this machine and checks only the key."""

from __future__ import annotations

import json
import random
import threading
import time
from collections import deque
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from embeddings.workbench.bench import synthetic_item

PAGE = 100  # a change list's page
KEY = "0123456789abcdef0123456789abcdef"  # a v3 key's shape


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        return  # a client killed mid-request (the bench's SIGKILL) is expected, not news


class LoopbackTMDb:
    def __init__(self, titles: int, latency_ms: float, limit_per_second: int = 50) -> None:
        self.titles = titles
        self.latency = latency_ms / 1000
        self.limit = limit_per_second
        self.requests = 0
        self.details = 0
        self.rate_limited = 0
        self._recent: deque[float] = deque()
        self._lock = threading.Lock()
        self._server = _QuietServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> LoopbackTMDb:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _over_limit(self) -> bool:
        with self._lock:
            now = time.monotonic()
            self.requests += 1
            while self._recent and self._recent[0] <= now - 1.0:
                self._recent.popleft()
            if len(self._recent) >= self.limit:
                self.rate_limited += 1
                return True
            self._recent.append(now)
            return False

    def answer(self, path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        if (query.get("api_key") or [""])[0] != KEY:
            return 401, {"success": False, "status_code": 7, "status_message": "Invalid API key"}
        if self._over_limit():
            return 429, {"success": False, "status_code": 25, "status_message": "Over the limit"}
        parts = path.strip("/").split("/")
        if parts[:2] == ["3", "movie"] and parts[2:] == ["changes"]:
            page = int((query.get("page") or ["1"])[0])
            ids = range((page - 1) * PAGE + 1, min(page * PAGE, self.titles) + 1)
            pages = max(1, -(-self.titles // PAGE))
            return 200, {"page": page, "results": [{"id": i, "adult": False} for i in ids],
                         "total_pages": pages, "total_results": self.titles}  # fmt: skip
        if parts[:2] == ["3", "tv"] and parts[2:] == ["changes"]:
            return 200, {"page": 1, "results": [], "total_pages": 1, "total_results": 0}
        if len(parts) == 3 and parts[:2] == ["3", "movie"] and parts[2].isdigit():
            tmdb_id = int(parts[2])
            if not 0 < tmdb_id <= self.titles:
                return 404, {"success": False, "status_code": 34, "status_message": "Not found"}
            with self._lock:
                self.details += 1
            return 200, revised_film(tmdb_id)
        return 404, {"success": False, "status_code": 34, "status_message": "Not found"}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                # Counted on arrival, as TMDb counts them; answered after the latency.
                status, body = owner.answer(parts.path, parse_qs(parts.query))
                time.sleep(owner.latency)
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                if status == 429:
                    self.send_header("Retry-After", "1")
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return  # quiet: thousands of requests

        return Handler


def revised_film(tmdb_id: int) -> dict[str, Any]:
    """The synthetic film `tmdb_id` (as `synthetic_item` makes it) in TMDb's format, its
    overview revised: every title the bench seeds has changed."""
    item = synthetic_item(random.Random(tmdb_id), tmdb_id - 1)
    return {
        "id": tmdb_id,
        "title": item["title"],
        "original_title": item["title"],
        "release_date": date(item["year"], 6, 1).isoformat(),
        "tagline": "",
        "overview": item["overview"] + " (revised)",
        "genres": [{"id": n, "name": name} for n, name in enumerate(item["genres"])],
        "belongs_to_collection": None,
        "runtime": 100,
        "popularity": 1.0,
        "vote_average": 6.5,
        "vote_count": 100,
        "credits": {
            "cast": [{"name": name, "order": n} for n, name in enumerate(item["cast"])],
            "crew": [{"name": item["director"], "job": "Director"}],
        },
        "keywords": {"keywords": [{"id": n, "name": k} for n, k in enumerate(item["keywords"])]},
    }
