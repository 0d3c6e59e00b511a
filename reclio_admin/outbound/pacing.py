"""Requests to outside services (an embedding provider by its registry name, "tmdb", …), paced
below the service's quota with one budget for every worker on every machine, and counted.

The budget is a row of `ServicePace` per service. Taking a slot is one atomic UPSERT on the
database's clock, so workers on machines whose clocks disagree still share it:

    start   = greatest(free_at, now)
    free_at = start + cost,  cost = max(requests * 60 / rpm, tokens * 60 / tpm) / HEADROOM

so requests start evenly spaced at no more than the limits, whoever sends them. A limit is the
lower of the one configured (the connection form or `<NAME>_REQUESTS_PER_MINUTE` /
`<NAME>_TOKENS_PER_MINUTE`) and the one the service's own headers last announced (OpenAI's
`x-ratelimit-limit-*`); a service with neither is not held back, and only counted. When the
headers say nothing is left (`x-ratelimit-remaining-* = 0`), no request starts before their
`x-ratelimit-reset-*`.

Never call these inside a transaction that then waits on the network: the row stays locked
until that transaction ends.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.apps import apps
from django.db import connection
from django.utils import timezone

from reclio_admin.env import env_int

# Requests are spaced as if each limit were this much lower: the margin absorbs what one
# machine's sleep or the network adds to a start, so the service never counts more than its
# limit in any window.
HEADROOM = 0.95
# A start later than this after the reservation counts as held back on the jobs page.
HELD_BACK_SECONDS = 0.01
# The jobs page calls a service paced while it held a request back this recently.
PACED_RECENTLY = timedelta(seconds=5)
MAX_LIMIT = 1_000_000_000
# Upper bounds, in seconds, of the latency histogram's buckets (a last one holds the rest).
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


@dataclass(frozen=True)
class Limits:
    """Requests and tokens a minute a service may receive; None: not configured."""

    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None


class QuotaWait(Exception):
    """The next slot starts further away than the caller may wait; nothing was taken."""

    def __init__(self, name: str, seconds: float) -> None:
        super().__init__(f"{name}'s quota allows the next request in {seconds:.1f} s")
        self.seconds = seconds


def configured(name: str) -> Limits:
    """The limits `<NAME>_REQUESTS_PER_MINUTE` and `<NAME>_TOKENS_PER_MINUTE` set (a malformed
    one raises ImproperlyConfigured naming it)."""
    prefix = name.upper()
    requests = env_int(f"{prefix}_REQUESTS_PER_MINUTE", 0, minimum=0, maximum=MAX_LIMIT)
    tokens = env_int(f"{prefix}_TOKENS_PER_MINUTE", 0, minimum=0, maximum=MAX_LIMIT)
    return Limits(requests or None, tokens or None)


def _table(model: str) -> str:
    # Looked up by name: the models package sits above this module.
    return str(apps.get_model("embeddings", model)._meta.db_table)


_NOW = "EXCLUDED.last_start"
_START = f"GREATEST(p.free_at, {_NOW})"
_WAIT = f"EXTRACT(EPOCH FROM {_START} - {_NOW})::float8"
_TAKEN = f"(%(max_wait)s::float8 IS NULL OR {_WAIT} <= %(max_wait)s::float8)"
_RPM = "LEAST(%(rpm)s::bigint, p.learned_requests_per_minute)"
_TPM = "LEAST(%(tpm)s::bigint, p.learned_tokens_per_minute)"
# GREATEST and LEAST pass over NULLs: a limit nobody knows costs nothing.
_COST = (
    "COALESCE(GREATEST(%(requests)s * 60.0 / ({rpm} * %(headroom)s),"
    " %(tokens)s * 60.0 / ({tpm} * %(headroom)s)), 0)"
)
_MINUTE = f"date_trunc('minute', {_NOW})"


def _taken(value: str, otherwise: str) -> str:
    return f"CASE WHEN {_TAKEN} THEN {value} ELSE {otherwise} END"


def _counted(column: str, added: str) -> str:
    """This minute's count after the reservation (a new minute starts from nothing)."""
    return f"CASE WHEN p.minute = {_MINUTE} THEN p.{column} ELSE 0 END + {_taken(added, '0')}"


def _last(column: str) -> str:
    """The last minute's count: kept within the minute, moved over when a new one starts."""
    return (
        f"CASE WHEN p.minute = {_MINUTE} THEN p.last_{column}"
        f" WHEN p.minute = {_MINUTE} - interval '1 minute' THEN p.{column} ELSE 0 END"
    )


def _reserve_sql(table: str) -> str:
    cost = _COST.format(rpm=_RPM, tpm=_TPM)
    first_cost = _COST.format(rpm="%(rpm)s::bigint", tpm="%(tpm)s::bigint")
    held = f"CASE WHEN {_WAIT} > {HELD_BACK_SECONDS} THEN {_START} ELSE p.held_until END"
    return f"""
        INSERT INTO {table} AS p (
            name, free_at, last_start, last_wait, held_until, requests_per_minute,
            tokens_per_minute, minute, minute_requests, minute_tokens, last_minute_requests,
            last_minute_tokens)
        SELECT %(name)s, c.now + {first_cost} * interval '1 second', c.now, 0, NULL,
            %(rpm)s, %(tpm)s, date_trunc('minute', c.now), %(requests)s, %(tokens)s, 0, 0
        FROM (SELECT clock_timestamp() AS now) c
        ON CONFLICT (name) DO UPDATE SET
            free_at = {_taken(f"{_START} + {cost} * interval '1 second'", "p.free_at")},
            last_wait = {_WAIT},
            held_until = {_taken(held, "p.held_until")},
            requests_per_minute = {_RPM},
            tokens_per_minute = {_TPM},
            last_minute_requests = {_last("minute_requests")},
            last_minute_tokens = {_last("minute_tokens")},
            minute_requests = {_counted("minute_requests", "%(requests)s")},
            minute_tokens = {_counted("minute_tokens", "%(tokens)s")},
            minute = {_MINUTE},
            last_start = {_NOW}
        RETURNING last_wait, EXTRACT(EPOCH FROM free_at - last_start)::float8 - last_wait
    """  # fmt: skip


@dataclass(frozen=True)
class Slot:
    """Where a reservation's requests may start: `wait` seconds from now, then spread evenly
    over `length` seconds."""

    wait: float
    length: float

    def starts(self, count: int) -> list[float]:
        """Seconds from now at which each of the `count` requests may start."""
        return [self.wait + self.length * i / count for i in range(count)]


def reserve(
    name: str,
    *,
    requests: int = 1,
    tokens: int = 0,
    limits: Limits | None = None,
    max_wait: float | None = None,
) -> Slot:
    """Take the slot of `requests` requests carrying `tokens` tokens in all from `name`'s
    budget. With `max_wait`, a slot that starts further away is not taken: QuotaWait says how
    far it is."""
    limits = configured(name) if limits is None else limits
    params: dict[str, str | int | float | None] = {
        "name": name,
        "requests": requests,
        "tokens": tokens,
        "rpm": limits.requests_per_minute,
        "tpm": limits.tokens_per_minute,
        "max_wait": max_wait,
        "headroom": HEADROOM,
    }
    with connection.cursor() as cursor:
        cursor.execute(_reserve_sql(_table("ServicePace")), params)
        wait, length = cursor.fetchone()
    if max_wait is not None and wait > max_wait:
        raise QuotaWait(name, wait)
    return Slot(max(float(wait), 0.0), max(float(length), 0.0))


def pace(name: str, *, tokens: int = 0, limits: Limits | None = None) -> float:
    """Wait for one request's slot in `name`'s budget (TMDb: `pace("tmdb")`); returns the
    seconds waited."""
    wait = reserve(name, tokens=tokens, limits=limits).wait
    if wait > 0:
        time.sleep(wait)
    return wait


# --- what the service's headers say -----------------------------------------------------------

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str | None) -> float | None:
    """OpenAI's reset times: `1s`, `6m0s`, `20ms`, `1h2m3.5s`; None when unreadable."""
    if not text:
        return None
    parts = _DURATION.findall(text.strip())
    if not parts or "".join(n + u for n, u in parts) != text.strip():
        return None
    return sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts)


def _whole(text: str | None) -> int | None:
    try:
        value = int(str(text).strip()) if text is not None else None
    except ValueError:
        return None
    return value if value is not None and 0 <= value <= MAX_LIMIT else None


@dataclass(frozen=True)
class Announced:
    """A service's rate-limit headers, read: its limits, and how long to hold off when it said
    nothing is left."""

    requests_per_minute: int | None
    tokens_per_minute: int | None
    hold_off: float

    @classmethod
    def read(cls, headers: Mapping[str, str]) -> Announced:
        lowered = {key.lower(): value for key, value in headers.items()}
        hold = 0.0
        for kind in ("requests", "tokens"):
            if _whole(lowered.get(f"x-ratelimit-remaining-{kind}")) == 0:
                reset = parse_duration(lowered.get(f"x-ratelimit-reset-{kind}"))
                hold = max(hold, min(reset or 1.0, 60.0))
        return cls(
            _whole(lowered.get("x-ratelimit-limit-requests")) or None,
            _whole(lowered.get("x-ratelimit-limit-tokens")) or None,
            hold,
        )

    @property
    def anything(self) -> bool:
        return bool(self.requests_per_minute or self.tokens_per_minute or self.hold_off)


_known: dict[str, tuple[int | None, int | None]] = {}
_known_lock = threading.Lock()


def learn(name: str, announced: Announced) -> None:
    """Keep the limits a service announced, and hold every worker off when it said nothing is
    left. Written only when something changed since this process last wrote it."""
    limits = (announced.requests_per_minute, announced.tokens_per_minute)
    with _known_lock:
        unchanged = _known.get(name) == limits
        _known[name] = limits
    if not announced.anything or (unchanged and not announced.hold_off):
        return
    table = _table("ServicePace")
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {table} AS p (name, free_at, last_start, last_wait, minute,
                learned_requests_per_minute, learned_tokens_per_minute, learned_at,
                minute_requests, minute_tokens, last_minute_requests, last_minute_tokens)
            SELECT %(name)s, c.now + %(hold)s * interval '1 second', c.now, 0,
                date_trunc('minute', c.now), %(rpm)s, %(tpm)s, c.now, 0, 0, 0, 0
            FROM (SELECT clock_timestamp() AS now) c
            ON CONFLICT (name) DO UPDATE SET
                learned_requests_per_minute = COALESCE(%(rpm)s, p.learned_requests_per_minute),
                learned_tokens_per_minute = COALESCE(%(tpm)s, p.learned_tokens_per_minute),
                learned_at = EXCLUDED.learned_at,
                free_at = GREATEST(p.free_at, EXCLUDED.free_at)
            """,
            {"name": name, "rpm": limits[0], "tpm": limits[1], "hold": announced.hold_off},
        )


def forget_learned() -> None:
    """Forget what this process wrote last (its database may have been emptied since)."""
    with _known_lock:
        _known.clear()


# --- counts for /metrics ------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One request as its sender saw it."""

    status: str  # "200", "429", …, or "no answer"
    seconds: float
    tokens: int


def record(name: str, calls: Iterable[Call]) -> None:
    """Add these requests to the service's counts, one row per status, in one statement."""
    grouped: dict[str, tuple[int, int, float, list[int]]] = {}
    for call in calls:
        requests, tokens, seconds, buckets = grouped.get(call.status, (0, 0, 0.0, _empty()))
        buckets[_bucket(call.seconds)] += 1
        grouped[call.status] = (requests + 1, tokens + call.tokens, seconds + call.seconds, buckets)
    if not grouped:
        return
    rows = [(name, status, *values) for status, values in grouped.items()]
    values = ", ".join(["(%s, %s, %s, %s, %s, %s::bigint[])"] * len(rows))
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {_table("ServiceCallTally")} AS t
                (service, status, requests, tokens, seconds, buckets)
            VALUES {values}
            ON CONFLICT (service, status) DO UPDATE SET
                requests = t.requests + EXCLUDED.requests,
                tokens = t.tokens + EXCLUDED.tokens,
                seconds = t.seconds + EXCLUDED.seconds,
                buckets = (SELECT array_agg(a + b ORDER BY i)
                           FROM unnest(t.buckets, EXCLUDED.buckets) WITH ORDINALITY AS u(a, b, i))
            """,
            [value for row in rows for value in row],
        )


def _empty() -> list[int]:
    return [0] * (len(LATENCY_BUCKETS) + 1)


def _bucket(seconds: float) -> int:
    return next((i for i, bound in enumerate(LATENCY_BUCKETS) if seconds <= bound), -1)


# --- what the jobs page shows -------------------------------------------------------------------


@dataclass(frozen=True)
class Paced:
    """A service holding requests back now: its recent rate against its limit."""

    name: str
    requests_last_minute: int
    requests_per_minute: int | None
    tokens_last_minute: int
    tokens_per_minute: int | None

    @property
    def summary(self) -> str:
        """`paced: 1,200 of 3,000 requests a minute` (tokens when only they are limited)."""
        if self.requests_per_minute is None and self.tokens_per_minute is not None:
            return (
                f"paced: {self.tokens_last_minute:,} of {self.tokens_per_minute:,} tokens a minute"
            )
        limit = f"{self.requests_per_minute:,}" if self.requests_per_minute else "?"
        return f"paced: {self.requests_last_minute:,} of {limit} requests a minute"


def paced_now(names: Iterable[str]) -> dict[str, Paced]:
    """The services among `names` that held a request back within PACED_RECENTLY, by name."""
    wanted = sorted(set(names))
    if not wanted:
        return {}
    model = apps.get_model("embeddings", "ServicePace")
    now = timezone.now()
    found = {}
    for row in model.objects.filter(name__in=wanted, held_until__gte=now - PACED_RECENTLY):
        found[row.name] = Paced(
            row.name,
            _last_minute(row.minute, row.minute_requests, row.last_minute_requests, now),
            row.requests_per_minute,
            _last_minute(row.minute, row.minute_tokens, row.last_minute_tokens, now),
            row.tokens_per_minute,
        )
    return found


def _last_minute(minute: datetime, this: int, last: int, now: datetime) -> int:
    """Requests of the last 60 seconds, estimated from the counts of this minute and the last
    (the last one weighted by the share of it still within 60 seconds)."""
    into = (now - minute).total_seconds()
    if into >= 120:
        return 0
    if into >= 60:
        return math.floor(this * (1 - (into - 60) / 60))
    return math.floor(this + last * (1 - into / 60))
