"""A loopback TMDb API v3: the change lists (`GET /3/movie/changes`, `/3/tv/changes` with
`start_date`, `end_date`, `page`), the charts (`/3/movie/popular`, `top_rated`, `now_playing`;
`/3/tv/popular`, `top_rated`, `on_the_air`, `airing_today`) and a title's details
(`/3/movie/{id}`, `/3/tv/{id}`, with `append_to_response=credits,keywords`), and
`/3/authentication`, which answers success for a good key.

Keys as TMDb takes them: a v3 key in `?api_key=`, or a v4 read token as `Authorization:
Bearer`; errors in TMDb's shape `{"success": false, "status_code": N, "status_message": …}`
(7: invalid key, 34: not found, 25: over the request limit). With `limit_per_second`, it
answers 429 to any request past that many in the last second, as TMDb does past its limit.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from datetime import date
from typing import Any

from tests.fakes._server import JSON, Action, FakeServer, Received, json_body

PATH_KINDS = ("movie", "tv")
CHARTS = ("popular", "top_rated", "now_playing", "on_the_air", "airing_today")
CHANGES_PAGE = 100  # TMDb's change lists come 100 to a page
CHART_PAGE = 20  # its charts 20 to a page

_ERRORS = {
    401: (7, "Invalid API key: You must be granted a valid key."),
    404: (34, "The resource you requested could not be found."),
    429: (25, "Your request count (41) is over the allowed limit of (40)."),
    500: (11, "Internal error: Something went wrong, contact TMDb."),
    503: (9, "Service offline: This service is temporarily offline, try again later."),
}


def movie(tmdb_id: int, **fields: Any) -> dict[str, Any]:
    """A film's details as TMDb sends them, credits and keywords included; `fields` replace."""
    body: dict[str, Any] = {
        "adult": False,
        "id": tmdb_id,
        "imdb_id": f"tt{tmdb_id:07d}",
        "title": f"Film {tmdb_id}",
        "original_title": f"Film {tmdb_id}",
        "original_language": "en",
        "release_date": "2010-07-15",
        "tagline": "",
        "overview": f"The story of film {tmdb_id}.",
        "genres": [{"id": 18, "name": "Drama"}],
        "belongs_to_collection": None,
        "runtime": 120,
        "status": "Released",
        "popularity": 10.5,
        "vote_average": 7.1,
        "vote_count": 1200,
        "credits": {
            "cast": [
                {"id": 100 + n, "name": f"Actor {n}", "character": f"Role {n}", "order": n}
                for n in range(8)
            ],
            "crew": [
                {"id": 900, "name": "Some Director", "job": "Director", "department": "Directing"},
                {"id": 901, "name": "Some Writer", "job": "Screenplay", "department": "Writing"},
            ],
        },
        "keywords": {"keywords": [{"id": 1, "name": "dream"}]},
    }
    return body | fields


def series(tmdb_id: int, **fields: Any) -> dict[str, Any]:
    """A series' details as TMDb sends them (names, not titles; keywords under `results`)."""
    body: dict[str, Any] = {
        "id": tmdb_id,
        "name": f"Series {tmdb_id}",
        "original_name": f"Series {tmdb_id}",
        "first_air_date": "2015-01-10",
        "tagline": "",
        "overview": f"The story of series {tmdb_id}.",
        "genres": [{"id": 18, "name": "Drama"}],
        "created_by": [{"id": 7, "name": "Some Creator"}],
        "episode_run_time": [50],
        "number_of_seasons": 3,
        "popularity": 8.25,
        "vote_average": 8.0,
        "vote_count": 900,
        "credits": {"cast": [{"id": 1, "name": "Lead Actor", "order": 0}], "crew": []},
        "keywords": {"results": [{"id": 2, "name": "family"}]},
    }
    return body | fields


class FakeTMDb(FakeServer):
    name = "tmdb"

    def __init__(
        self,
        api_key: str = "0123456789abcdef0123456789abcdef",
        read_token: str = "eyJhbGciOiJIUzI1NiJ9.eyJhdWQiOiJmYWtlIn0.c2lnbmF0dXJl",
        limit_per_second: int | None = None,
    ) -> None:
        super().__init__()
        self.api_key = api_key
        self.read_token = read_token
        self.limit_per_second = limit_per_second
        self.titles: dict[tuple[str, int], Any] = {}  # (path kind, id) -> details
        self.raw: dict[tuple[str, int], bytes] = {}  # (path kind, id) -> a body that is not JSON
        self.changes: dict[tuple[str, int], date] = {}  # (path kind, id) -> day it changed
        self.charts: dict[tuple[str, str], list[int]] = {}
        self.rate_limited = 0
        self._recent: deque[float] = deque()
        self._rate_lock = threading.Lock()

    def own_env(self) -> dict[str, str]:
        return {"TMDB_BASE_URL": self.url, "TMDB_API_KEY": self.api_key}

    def save_to_settings_row(self) -> None:
        """The key as an admin saves it on the connection form."""
        from embeddings.models import ProviderCredential

        ProviderCredential.store({"tmdb_api_key": self.api_key})

    def add(self, body: dict[str, Any], *, changed: date | None = None) -> dict[str, Any]:
        """Serve this title (`movie(…)` or `series(…)`); `changed` lists it in that day's changes."""
        kind = "tv" if "name" in body and "title" not in body else "movie"
        self.titles[(kind, body["id"])] = body
        if changed is not None:
            self.changes[(kind, body["id"])] = changed
        return body

    def scripted(self, request: Received) -> bool:
        return True

    def handle(self, request: Received, action: Action) -> tuple[int, dict[str, str], bytes]:
        if not self._authorised(request):
            return self._error(401)
        if action.kind == "status":
            return self._error(action.status)
        if self._over_limit():
            return self._error(429, retry_after="1")
        parts = request.path.strip("/").split("/")
        if parts == ["3", "authentication"]:
            return (
                200,
                dict(JSON),
                json_body({"success": True, "status_code": 1, "status_message": "Success."}),
            )
        if len(parts) != 3 or parts[0] != "3" or parts[1] not in PATH_KINDS:
            return self._error(404)
        kind, leaf = parts[1], parts[2]
        if leaf == "changes":
            return self._changes(kind, request)
        if leaf in CHARTS:
            return self._chart(kind, leaf, request)
        if not leaf.isdigit():
            return self._error(404)
        return self._details(kind, int(leaf), request)

    def _authorised(self, request: Received) -> bool:
        bearer = request.headers.get("authorization", "")
        if bearer:
            return bearer == f"Bearer {self.read_token}"
        return (request.query.get("api_key") or [""])[0] == self.api_key

    def _over_limit(self) -> bool:
        if self.limit_per_second is None:
            return False
        with self._rate_lock:
            now = time.monotonic()
            while self._recent and self._recent[0] <= now - 1.0:
                self._recent.popleft()
            if len(self._recent) >= self.limit_per_second:
                self.rate_limited += 1
                return True
            self._recent.append(now)
            return False

    def _changes(self, kind: str, request: Received) -> tuple[int, dict[str, str], bytes]:
        start = date.fromisoformat(_arg(request, "start_date"))
        end = date.fromisoformat(_arg(request, "end_date"))
        if (end - start).days > 14:
            return self._error(422, message="Invalid date range: Should be a range no longer than 14 days.")  # fmt: skip
        ids = sorted(i for (k, i), day in self.changes.items() if k == kind and start <= day <= end)
        return self._page(ids, int(_arg(request, "page") or 1), CHANGES_PAGE, adult=True)

    def _chart(self, kind: str, name: str, request: Received) -> tuple[int, dict[str, str], bytes]:
        ids = self.charts.get((kind, name), [])
        return self._page(ids, int(_arg(request, "page") or 1), CHART_PAGE, adult=False)

    def _page(
        self, ids: list[int], page: int, size: int, *, adult: bool
    ) -> tuple[int, dict[str, str], bytes]:
        pages = max(1, -(-len(ids) // size))
        shown = ids[(page - 1) * size : page * size]
        results = [{"id": i, "adult": False} if adult else {"id": i} for i in shown]
        body = {"page": page, "results": results, "total_pages": pages, "total_results": len(ids)}
        return 200, dict(JSON), json_body(body)

    def _details(
        self, kind: str, tmdb_id: int, request: Received
    ) -> tuple[int, dict[str, str], bytes]:
        if (kind, tmdb_id) in self.raw:
            return 200, dict(JSON), self.raw[(kind, tmdb_id)]
        body = self.titles.get((kind, tmdb_id))
        if body is None:
            return self._error(404)
        appended = set(_arg(request, "append_to_response").split(","))
        shown = {k: v for k, v in body.items() if k not in ("credits", "keywords") or k in appended}
        return 200, dict(JSON), json_body(shown)

    def _error(
        self, status: int, *, message: str = "", retry_after: str = ""
    ) -> tuple[int, dict[str, str], bytes]:
        code, text = _ERRORS.get(status, (3, "Request failed."))
        headers = dict(JSON)
        if retry_after:
            headers["Retry-After"] = retry_after
        body = {"success": False, "status_code": code, "status_message": message or text}
        return status, headers, json_body(body)


def _arg(request: Received, name: str) -> str:
    return (request.query.get(name) or [""])[0]
