"""The content sync: bring TMDb's changes to the titles the catalog holds, and optionally new
titles from the charts an admin picked, into the catalog.

A changed text gets a new `text_hash` as any write does, so the next stale embedding job
(the daily sync starts one right after) embeds exactly the titles whose text changed.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.db import DatabaseError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from catalog.models import SYNC_LOCKS, CatalogItem, SyncEntry, SyncJob
from catalog.tmdb.client import CHANGES_MAX_DAYS, BadAnswer, NotFound, TMDbClient, TMDbError
from catalog.tmdb.control import Status
from catalog.tmdb.mapping import MalformedTitle, title_fields
from reclio_admin.logs import log_context

logger = logging.getLogger(__name__)

Outcome = SyncEntry.Outcome
# Requests in flight at once: enough to keep TMDb's rate busy across its latency; the pacer,
# not this, holds the rate.
CONCURRENCY = 16
BATCH = 50  # titles written (and counted) per transaction
LIST_CHUNK = 500  # pending entries read at a time
ProgressCallback = Callable[[SyncJob], None]


def run_sync(
    job_id: int, client: TMDbClient, *, on_progress: ProgressCallback | None = None
) -> str:
    """Run a queued (or resumed) sync to its end, or until it is cancelled or fails; return its
    status. A second worker given the same sync finds it held and leaves it alone.

    1. Hold the sync's advisory lock (its sign of life) and mark it running.
    2. Unless done before, list the work: the titles of TMDb's change lists the catalog holds,
       and the charts' titles it lacks, a page at a time into `SyncEntry`.
    3. Fetch the pending titles' details, CONCURRENCY at a time, paced by the client.
    4. Write them BATCH at a time: the items, the entries' outcomes and the counts in one
       transaction, so a worker killed mid-sync loses only the batch in flight.
    5. After each batch: heartbeat, rate and ETA; stop on cancel.
    """
    if not _hold(job_id):
        return SyncJob.objects.values_list("status", flat=True).get(pk=job_id)
    with log_context(job_id=f"sync-{job_id}"):
        try:
            return _run(job_id, client, on_progress)
        except TMDbError as exc:
            return _stop(job_id, Status.FAILED, str(exc))
        except Exception as exc:
            logger.exception("Content sync #%s stopped by an unexpected error", job_id)
            with contextlib.suppress(DatabaseError):
                _stop(job_id, Status.FAILED, f"Unexpected error: {type(exc).__name__}")
            raise
        finally:
            with contextlib.suppress(DatabaseError), connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [SYNC_LOCKS, job_id])


def _hold(job_id: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [SYNC_LOCKS, job_id])
        row = cursor.fetchone()
    return bool(row and row[0])


def _run(job_id: int, client: TMDbClient, on_progress: ProgressCallback | None) -> str:
    now = timezone.now()
    joined = SyncJob.objects.filter(pk=job_id).move(
        Status.RUNNING, from_=[Status.QUEUED, Status.RUNNING], heartbeat_at=now
    )
    if not joined:
        return SyncJob.objects.values_list("status", flat=True).get(pk=job_id)
    SyncJob.objects.filter(pk=job_id, started_at=None).update(started_at=now)
    job = SyncJob.objects.get(pk=job_id)
    meter = _Meter(job, client)
    if not job.listed:
        _list_work(job, client, meter)
        job = meter.update(job_id)
        if on_progress:
            on_progress(job)
    for batch in _fetched_batches(job, client):
        _write(job, batch)
        current = meter.update(job_id)
        if on_progress:
            on_progress(current)
        if current.status == Status.CANCELLING:
            return _stop(job_id, Status.CANCELLED, "")
        if current.status != Status.RUNNING:
            return current.status
    return _complete(job_id, on_progress)


# --- Listing the work ---------------------------------------------------------------------------


def windows(since: date, until: date) -> Iterator[tuple[date, date]]:
    """The days from `since` to `until`, in the spans of at most 14 days a change list covers."""
    start = since
    while start <= until:
        end = min(start + timedelta(days=CHANGES_MAX_DAYS - 1), until)
        yield start, end
        start = end + timedelta(days=1)


def _list_work(job: SyncJob, client: TMDbClient, meter: _Meter) -> None:
    """Every page of the change lists and the picked charts, each page's titles recorded as
    entries as soon as it is read (a page at a time in memory); run again after a kill, it
    records nothing twice."""
    for kind in ("movie", "series"):
        for start, end in windows(job.since, job.until):
            page, pages = 1, 1
            while page <= pages:
                listed = client.changes(kind, start, end, page)
                _record(job, kind, _held(kind, listed.ids), new=False)
                meter.beat(job.pk)
                page, pages = page + 1, listed.total_pages
    for chart in job.charts:
        kind, _, name = chart.partition(":")
        page, pages = 1, job.chart_pages
        while page <= pages:
            listed = client.chart(kind, name, page)
            held = set(_held(kind, listed.ids))
            _record(job, kind, [i for i in listed.ids if i not in held], new=True)
            meter.beat(job.pk)
            page, pages = page + 1, min(job.chart_pages, listed.total_pages)
    total = SyncEntry.objects.filter(job=job).count()
    SyncJob.objects.filter(pk=job.pk).update(listed=True, total=total, heartbeat_at=timezone.now())


def _held(kind: str, ids: list[int]) -> list[int]:
    return list(
        CatalogItem.objects.filter(kind=kind, tmdb_id__in=ids).values_list("tmdb_id", flat=True)
    )


def _record(job: SyncJob, kind: str, ids: list[int], *, new: bool) -> None:
    SyncEntry.objects.bulk_create(
        [SyncEntry(job=job, kind=kind, tmdb_id=i, new=new) for i in ids], ignore_conflicts=True
    )


# --- Fetching -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Pending:
    entry_id: int
    kind: str
    tmdb_id: int
    new: bool


@dataclass(frozen=True)
class _Fetched:
    pending: _Pending
    fields: dict[str, Any] | None
    outcome: str = ""  # MISSING or SKIPPED when `fields` is None
    reason: str = ""


def _pending(job: SyncJob) -> Iterator[_Pending]:
    """The entries still to do, in id order, LIST_CHUNK at a time (keyset on the id)."""
    last = 0
    while True:
        rows = list(
            SyncEntry.objects.filter(job=job, outcome="", id__gt=last)
            .order_by("id")
            .values_list("id", "kind", "tmdb_id", "new")[:LIST_CHUNK]
        )
        if not rows:
            return
        last = rows[-1][0]
        yield from (_Pending(*row) for row in rows)


def _fetch(client: TMDbClient, pending: _Pending) -> _Fetched:
    """One title's details as catalog fields, or why there are none. A failure of TMDb itself
    (down, key refused) is raised: it stops the sync, and the title stays pending."""
    try:
        body = client.details(pending.kind, pending.tmdb_id)
    except NotFound:
        return _Fetched(pending, None, Outcome.MISSING, "TMDb answered 404: no such title")
    except BadAnswer as exc:
        return _Fetched(pending, None, Outcome.SKIPPED, f"malformed answer: {exc}")
    try:
        return _Fetched(pending, title_fields(pending.kind, pending.tmdb_id, body))
    except MalformedTitle as exc:
        return _Fetched(pending, None, Outcome.SKIPPED, f"malformed answer: {exc}")


def _fetched_batches(job: SyncJob, client: TMDbClient) -> Iterator[list[_Fetched]]:
    """The pending titles fetched, in batches of BATCH in the order they were listed. Up to
    2 x CONCURRENCY requests are queued ahead, so TMDb is kept busy while a batch is written;
    stopping early abandons what is in flight (those titles stay pending)."""
    with ThreadPoolExecutor(CONCURRENCY, thread_name_prefix="tmdb") as pool:
        ahead: deque[Future[_Fetched]] = deque()
        titles = _pending(job)
        batch: list[_Fetched] = []
        try:
            while True:
                while len(ahead) < 2 * CONCURRENCY and (pending := next(titles, None)):
                    ahead.append(pool.submit(_fetch, client, pending))
                if not ahead:
                    break
                batch.append(ahead.popleft().result())
                if len(batch) >= BATCH:
                    yield batch
                    batch = []
            if batch:
                yield batch
        finally:
            for future in ahead:
                future.cancel()


# --- Writing ------------------------------------------------------------------------------------


def _write(job: SyncJob, batch: list[_Fetched]) -> None:
    """One batch in one transaction: changed items updated (their text hashes with them), new
    chart titles added, every entry's outcome and the sync's counts."""
    keys = Q()
    for fetched in batch:
        keys |= Q(kind=fetched.pending.kind, tmdb_id=fetched.pending.tmdb_id)
    now = timezone.now()
    counts = dict.fromkeys(Outcome.values, 0)
    entries, changed, created, names = [], [], [], {"updated_at"}
    with transaction.atomic():
        held = {(i.kind, i.tmdb_id): i for i in CatalogItem.objects.filter(keys)}
        for fetched in batch:
            outcome, reason = fetched.outcome, fetched.reason
            item = held.get((fetched.pending.kind, fetched.pending.tmdb_id))
            title = item.title if item is not None else ""
            if fetched.fields is None:
                _log(fetched, title)
            elif item is not None:
                differ = [n for n, v in fetched.fields.items() if getattr(item, n) != v]
                for name in differ:
                    setattr(item, name, fetched.fields[name])
                if differ:
                    item.updated_at = now
                    changed.append(item)
                    names.update(differ)
                outcome = Outcome.UPDATED if differ else Outcome.UNCHANGED
            elif fetched.pending.new:
                created.append(CatalogItem(**fetched.fields))
                outcome = Outcome.ADDED
            else:
                outcome, reason = Outcome.SKIPPED, "no longer in the catalog"
            counts[outcome] += 1
            entries.append(
                SyncEntry(
                    pk=fetched.pending.entry_id, outcome=outcome, reason=reason[:500], title=title
                )
            )
        if changed:
            CatalogItem.objects.bulk_update(changed, sorted(names))
        if created:
            CatalogItem.objects.bulk_create(created, ignore_conflicts=True)
        SyncEntry.objects.bulk_update(entries, ["outcome", "reason", "title"])
        SyncJob.objects.filter(pk=job.pk).update(
            heartbeat_at=now,
            **{name: F(name) + counts[value] for name, value in _COUNTERS.items() if counts[value]},
        )


_COUNTERS = {
    "updated": Outcome.UPDATED,
    "unchanged": Outcome.UNCHANGED,
    "added": Outcome.ADDED,
    "missing": Outcome.MISSING,
    "skipped": Outcome.SKIPPED,
}


def _log(fetched: _Fetched, title: str) -> None:
    pending = fetched.pending
    logger.warning(
        "Content sync: %s %s%s %s: %s",
        pending.kind,
        pending.tmdb_id,
        f" ({title})" if title else "",
        "kept" if fetched.outcome == Outcome.MISSING else "skipped",
        fetched.reason,
        extra={"event": f"sync_title_{fetched.outcome}"},
    )


class _Meter:
    """Rate and ETA of this run (time before a resume does not count), and TMDb requests."""

    def __init__(self, job: SyncJob, client: TMDbClient) -> None:
        self.started = time.monotonic()
        self.baseline = job.processed
        self.client = client
        self.sent = client.requests

    def _sent(self) -> int:
        sent, self.sent = self.client.requests - self.sent, self.client.requests
        return sent

    def beat(self, job_id: int) -> None:
        """While listing: a sign of life and the requests sent."""
        SyncJob.objects.filter(pk=job_id).update(
            heartbeat_at=timezone.now(), requests=F("requests") + self._sent()
        )

    def update(self, job_id: int) -> SyncJob:
        sent = self._sent()
        job = SyncJob.objects.get(pk=job_id)
        rate = max(job.processed - self.baseline, 0) / max(time.monotonic() - self.started, 1e-6)
        job.items_per_second = rate
        job.eta_seconds = max(job.total - job.processed, 0) / rate if rate else None
        job.requests += sent
        SyncJob.objects.filter(pk=job_id).update(
            items_per_second=rate, eta_seconds=job.eta_seconds, requests=F("requests") + sent
        )
        return job


def _stop(job_id: int, status: str, error: str) -> str:
    fields: dict[str, Any] = {"finished_at": timezone.now(), "eta_seconds": None}
    if error:
        fields["last_error"] = error
    if SyncJob.objects.filter(pk=job_id).move(status, from_=SyncJob.BEATING_STATUSES, **fields):
        logger.info(
            "Content sync #%s stopped: %s %s",
            job_id,
            status,
            error,
            extra={"event": f"sync_{status}"},
        )
    return SyncJob.objects.values_list("status", flat=True).get(pk=job_id)


def _complete(job_id: int, on_progress: ProgressCallback | None) -> str:
    SyncJob.objects.filter(pk=job_id).move(
        Status.COMPLETED, from_=SyncJob.BEATING_STATUSES, finished_at=timezone.now(), eta_seconds=0
    )
    job = SyncJob.objects.get(pk=job_id)
    logger.info(
        "Content sync #%s ended %s: %s updated, %s unchanged, %s added, %s not on TMDb, "
        "%s skipped of %s",
        job.pk, job.status, job.updated, job.unchanged, job.added, job.missing, job.skipped,
        job.total, extra={"event": f"sync_{job.status}"},
    )  # fmt: skip
    if on_progress:
        on_progress(job)
    return job.status
