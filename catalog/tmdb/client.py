"""TMDb's API v3: change lists, charts (popular, top rated, …) and a title's details, paced below
TMDb's rate limit.

TMDb is an outside service like the embedding providers, and is reached the same way: through the
guarded client of `reclio_admin.outbound.wire`. TMDB_BASE_URL passes the outbound-address rule
before the first request, every connection is checked again as it is dialled, a redirect is an
error (never followed, so a v3 key in the URL goes nowhere unchecked), and each request ends
within TMDB_TIMEOUT in all, however slowly TMDb drips its answer.

The key is a v3 API key, sent as the `api_key` query parameter, or a v4 read access token, sent
as `Authorization: Bearer`. A URL that carries a v3 key never reaches a message or a log line:
every failure leaves as a `TMDbError` written here, without the request's URL.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlsplit

import httpx2
from django.conf import settings

import reclio_admin.outbound.wire as wire
from catalog.tmdb.pacing import Pacer
from reclio_admin.outbound.addresses import AddressRefused, Unresolved, check_provider_url

# TMDb's name of each catalog kind in its paths.
PATH_KINDS = {"movie": "movie", "series": "tv"}
# The charts an admin may pick new titles from, by catalog kind.
CHARTS = {
    "movie": ("popular", "top_rated", "now_playing"),
    "series": ("popular", "top_rated", "on_the_air", "airing_today"),
}
# A change list covers at most 14 days a request.
CHANGES_MAX_DAYS = 14
RETRIES = 4  # of a 5xx, a timeout or a dropped connection
BACKOFF = 0.5  # seconds before the first retry; doubles each time
RATE_LIMIT_WAIT = 300.0  # seconds of 429 waits one request may spend before it gives up


class TMDbError(Exception):
    """A failure of TMDb's API, in words for a person; never carries the key."""


class MissingKey(TMDbError):
    pass


class AuthenticationFailed(TMDbError):
    """401: the key is wrong or revoked; nothing else will work either."""


class Unreachable(TMDbError):
    pass


class AddressNotAllowed(TMDbError):
    """TMDB_BASE_URL breaks the outbound-address rule: nothing was sent."""


class Redirected(TMDbError):
    """TMDb answered with a redirect, which is never followed (nor the key sent on)."""


class NotFound(TMDbError):
    """404: TMDb has no such title (any more)."""


class BadAnswer(TMDbError):
    """The answer arrived but is not what TMDb sends: not JSON, or the wrong shape."""


@dataclass(frozen=True)
class Page:
    ids: list[int]
    total_pages: int


def is_read_token(key: str) -> bool:
    """A v4 read access token is a JWT (three dotted parts, hundreds of characters); a v3 key
    is 32 hexadecimal characters."""
    return "." in key or len(key) > 64


class TMDbClient:
    def __init__(
        self, key: str, base_url: str = "", requests_per_second: float | None = None
    ) -> None:
        self.key = key.strip()
        self.base_url = (base_url or settings.TMDB_BASE_URL).rstrip("/")
        self.timeout = float(settings.TMDB_TIMEOUT)
        self.pacer = Pacer(requests_per_second or settings.TMDB_REQUESTS_PER_SECOND)
        self.requests = 0  # sent, retries included
        self.rate_limited = 0  # 429s received
        self._lock = threading.Lock()
        self._approved = False

    def changes(self, kind: str, start: date, end: date, page: int) -> Page:
        """The ids of `kind` TMDb changed from `start` to `end` (at most 14 days apart)."""
        body = self._get(
            f"/3/{PATH_KINDS[kind]}/changes",
            {"start_date": start.isoformat(), "end_date": end.isoformat(), "page": page},
        )
        return _page(body, f"the {kind} change list")

    def chart(self, kind: str, name: str, page: int) -> Page:
        """One page of a chart (`popular`, `top_rated`, …)."""
        body = self._get(f"/3/{PATH_KINDS[kind]}/{name}", {"page": page})
        return _page(body, f"the {name.replace('_', ' ')} list")

    def details(self, kind: str, tmdb_id: int) -> Any:
        """A title with its credits and keywords, as TMDb sends it (checked by `mapping`)."""
        return self._get(
            f"/3/{PATH_KINDS[kind]}/{tmdb_id}", {"append_to_response": "credits,keywords"}
        )

    def check(self, timeout: float) -> None:
        """One request that proves the key (`/3/authentication`), within `timeout` and without
        retries: what the connection form asks before it keeps a key."""
        if not self.key:
            raise MissingKey("No TMDb key to test")
        self._approve()
        try:
            self._read(self._send("/3/authentication", {}, timeout))
        except httpx2.TimeoutException:
            raise Unreachable(f"TMDb did not answer within {timeout:g} s") from None
        except httpx2.HTTPError:
            raise Unreachable(f"cannot connect to TMDb at {self.base_url}") from None

    def _get(self, path: str, params: dict[str, Any]) -> Any:
        """The one place this client talks HTTP.

        1. Wait for the pacer's slot, then send (TMDB_BASE_URL approved by the outbound-address
           rule first, once).
        2. A 429 holds every thread of the process back for the Retry-After TMDb sent and is
           tried again, up to RATE_LIMIT_WAIT seconds of such waits: back-pressure, not failure.
        3. A 5xx, a timeout or a dropped connection is tried again RETRIES times, backing off.
        4. Anything else (a redirect included) leaves as a named TMDbError.
        """
        if not self.key:
            raise MissingKey("No TMDb key: set TMDB_API_KEY or enter it on the settings page")
        self._approve()
        waited, failures = 0.0, 0
        while True:
            self.pacer.wait()
            try:
                response = self._send(path, params, self.timeout)
            except httpx2.TimeoutException:
                error: TMDbError = Unreachable(f"TMDb did not answer within {self.timeout:g} s")
            except httpx2.HTTPError:
                # The exception's text holds the URL, and with a v3 key the key: never shown.
                error = Unreachable(f"cannot connect to TMDb at {self.base_url}")
            else:
                if response.status_code == 429:
                    pause = _retry_after(response.headers.get("Retry-After"))
                    with self._lock:
                        self.rate_limited += 1
                    if waited + pause > RATE_LIMIT_WAIT:
                        raise TMDbError(
                            f"TMDb kept answering 429 (rate limited) for {waited:.0f} s"
                        )
                    waited += pause
                    self.pacer.hold_off(pause)
                    continue
                if response.status_code < 500:
                    return self._read(response)
                error = TMDbError(f"TMDb answered HTTP {response.status_code}")
            failures += 1
            if failures > RETRIES:
                raise error
            time.sleep(BACKOFF * 2 ** (failures - 1))

    def _approve(self) -> None:
        """TMDB_BASE_URL passes the outbound-address rule before anything is sent to it. The
        reason names the host, never the URL."""
        if self._approved:
            return
        try:
            check_provider_url(self.base_url)
        except Unresolved as unresolved:
            raise Unreachable(f"cannot reach TMDb: {unresolved}") from None
        except AddressRefused as refused:
            raise AddressNotAllowed(f"TMDB_BASE_URL is not allowed: {refused}") from None
        self._approved = True

    def _send(self, path: str, params: dict[str, Any], timeout: float) -> httpx2.Response:
        """One GET through the guarded client, all of it (connecting to the last byte of the
        body) within `timeout`; a redirect comes back as the 3xx it is."""
        headers = {"Accept": "application/json"}
        if is_read_token(self.key):
            headers["Authorization"] = f"Bearer {self.key}"
        else:
            params = {**params, "api_key": self.key}
        with self._lock:
            self.requests += 1
        with wire.deadline(timeout):
            return wire.client().get(
                self.base_url + path, params=params, headers=headers, timeout=timeout
            )

    def _read(self, response: httpx2.Response) -> Any:
        try:
            body = response.json()
        except ValueError:
            body = None
        status = response.status_code
        if 300 <= status < 400:
            # Scheme and host only: the Location may repeat the query, key and all.
            target = urlsplit(response.headers.get("Location", ""))
            where = f" to {target.scheme}://{target.hostname}" if target.hostname else ""
            raise Redirected(
                f"TMDb answered with a redirect (HTTP {status}){where}; redirects are not "
                "followed: set TMDB_BASE_URL to the address it points at"
            )
        if status == 200:
            if body is None:
                raise BadAnswer("TMDb sent an answer that is not valid JSON")
            return body
        message = body.get("status_message") if isinstance(body, dict) else None
        message = str(message or f"HTTP {status}")[:300].replace(self.key, "***")
        if status == 401:
            raise AuthenticationFailed(f"TMDb refused the key: {message}")
        if status == 404:
            raise NotFound(f"TMDb has no such title: {message}")
        raise TMDbError(f"TMDb refused the request (HTTP {status}): {message}")


def _retry_after(value: str | None) -> float:
    try:
        seconds = float(value) if value else 1.0
    except ValueError:
        seconds = 1.0
    return min(max(seconds, 0.1), 60.0)


def _page(body: Any, what: str) -> Page:
    results = body.get("results") if isinstance(body, dict) else None
    pages = body.get("total_pages") if isinstance(body, dict) else None
    if not isinstance(results, list) or not isinstance(pages, int):
        raise BadAnswer(f"TMDb sent {what} without results and total_pages")
    ids = []
    for entry in results:
        tmdb_id = entry.get("id") if isinstance(entry, dict) else None
        if isinstance(tmdb_id, int) and not isinstance(tmdb_id, bool) and tmdb_id > 0:
            ids.append(tmdb_id)
    return Page(ids, pages)
