"""Regeneration jobs: select what needs work, build texts, embed in batches, upsert, count.

Job state lives in `EmbeddingJob`, so any number of django-q2 workers (or shell commands) can
work on one job at once, a crashed worker loses at most its batch in flight, and a page reload
shows the truth. Task functions take primary keys, never model instances.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np
from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import F, QuerySet
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import OrmQ
from django_q.tasks import async_task

from catalog.models import CatalogItem
from embeddings import quality
from embeddings.jobs.stale import needing_work
from embeddings.models import (
    EMBEDDING_TABLES,
    EmbeddingBase,
    EmbeddingJob,
    JobFailure,
    drop_hnsw_index,
    ensure_hnsw_index,
)
from embeddings.neighbours import lexical_rows
from embeddings.providers import EmbeddingError, Provider, get_provider
from embeddings.registry import ResolvedModel, UnknownModel, resolve
from embeddings.storage import maybe_cut_over
from embeddings.text import TEXT_FIELDS, ItemFields, item_text, source_hash
from embeddings.worker_locks import (
    claim_items,
    hold_job,
    release_items,
    release_job,
    workers_on,
)
from reclio_admin.logs import log_context

logger = logging.getLogger(__name__)

Status = EmbeddingJob.Status
Mode = EmbeddingJob.Mode
TASK_NAMES = {"movie": "generate-movie-embeddings", "series": "generate-series-embeddings"}


# What the job's spending_cap_usd column holds: 12 digits, 2 of them cents.
MAX_SPENDING_CAP = Decimal("9999999999.99")


class JobRefused(Exception):
    """Why a job cannot be started, cancelled or resumed; shown to the user as is."""


@dataclass(frozen=True)
class Work:
    item_id: int
    text: str
    hash: str


@dataclass
class EmbedResult:
    done: int = 0
    skipped: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


# --- Starting, cancelling, resuming -----------------------------------------------------------


def create_job(
    kind: str,
    model: str | ResolvedModel,
    mode: str = Mode.STALE,
    *,
    user: Any = None,
    batch_size: int | None = None,
    spending_cap_usd: Decimal | float | str | None = None,
) -> EmbeddingJob:
    """Validate and record a job without queueing it (the shell command runs it in the foreground)."""
    if kind not in TASK_NAMES:
        raise JobRefused(f"Unknown kind {kind!r}: choose movie or series")
    if mode not in Mode.values:
        raise JobRefused(f"Unknown mode {mode!r}: choose {', '.join(Mode.values)}")
    resolved = _resolved(model)
    if resolved.provider == "none":
        raise JobRefused("Embeddings are turned off (provider none): there is nothing to generate")
    size = settings.EMBEDDING_BATCH_SIZE if batch_size is None else batch_size
    if not 1 <= size <= 2048:
        raise JobRefused("The batch size must be between 1 and 2048")
    try:
        cap = None if spending_cap_usd in (None, "") else Decimal(str(spending_cap_usd))
    except InvalidOperation:
        raise JobRefused(
            f"The spending cap must be an amount in dollars, not {spending_cap_usd!r}"
        ) from None
    if cap is not None and not (cap.is_finite() and 0 < cap <= MAX_SPENDING_CAP):
        raise JobRefused(f"A spending cap must be more than $0 and at most ${MAX_SPENDING_CAP:,}")
    if cap is not None and cap != cap.quantize(Decimal("0.01")):
        raise JobRefused(f"A spending cap is in whole cents, not ${spending_cap_usd}")
    user = user if getattr(user, "is_authenticated", False) else None
    try:
        with transaction.atomic():
            return EmbeddingJob.objects.create(
                kind=kind, model_key=resolved.key, mode=mode, batch_size=size,
                spending_cap_usd=cap, created_by=user,
            )  # fmt: skip
    except IntegrityError:
        raise JobRefused(_already_running(kind, resolved.key)) from None


def start_job(
    kind: str,
    model: str | ResolvedModel,
    mode: str = Mode.STALE,
    *,
    user: Any = None,
    batch_size: int | None = None,
    spending_cap_usd: Decimal | float | str | None = None,
) -> EmbeddingJob:
    """Record a job and queue it for the workers (it spreads to free ones as it runs)."""
    job = create_job(
        kind, model, mode, user=user, batch_size=batch_size, spending_cap_usd=spending_cap_usd
    )
    _enqueue(job)
    return job


def cancel_job(job_id: int) -> EmbeddingJob:
    """Queued or orphaned jobs stop at once; a running one stops after its batch in flight."""
    mark_interrupted()
    job = EmbeddingJob.objects.filter(pk=job_id)
    stopped = job.move(Status.CANCELLING, from_=[Status.RUNNING]) or job.move(
        Status.CANCELLED, from_=[Status.QUEUED, Status.INTERRUPTED], finished_at=timezone.now()
    )
    found = _get(job_id)
    if not stopped:
        raise JobRefused(
            f"Job #{found.pk} is {found.get_status_display().lower()}; there is nothing to cancel"
        )
    return found


def resume_job(job_id: int) -> EmbeddingJob:
    """Queue a stopped job again; it continues with what is still missing."""
    mark_interrupted()
    with transaction.atomic():
        job = _locked(job_id)
        if job.status not in EmbeddingJob.STOPPED_STATUSES:
            raise JobRefused(
                f"Job #{job.pk} is {job.get_status_display().lower()}; only stopped jobs resume"
            )
        _requeue(job)
    _enqueue(job)
    return job


def retry_failed(job_id: int) -> EmbeddingJob:
    """Forget the job's failed items and queue it again, so they are tried once more."""
    mark_interrupted()
    with transaction.atomic():
        job = _locked(job_id)
        if job.status in EmbeddingJob.ACTIVE_STATUSES:
            raise JobRefused(
                f"Job #{job.pk} is still {job.get_status_display().lower()}; retry when it ends"
            )
        forgotten, _ = JobFailure.objects.filter(job=job).delete()
        if not forgotten:
            raise JobRefused(f"Job #{job.pk} has no failed items to retry")
        job.failed = max(0, job.failed - forgotten)
        _requeue(job)
    _enqueue(job)
    return job


def mark_interrupted() -> int:
    """Jobs whose workers are gone: running ones become interrupted (resumable), cancelling
    ones cancelled. Returns how many changed. Workers, the schedule and every action on a job
    (a POST) call this, never a page."""
    interrupted, cancelled = _record_orphans()
    return len(interrupted) + cancelled


def _record_orphans() -> tuple[list[int], int]:
    """(ids of the jobs now interrupted, how many were cancelled).

    1. A job is orphaned when no session holds its worker lock (the process died and
       PostgreSQL dropped the lock with its session) or its heartbeat is too old.
    2. Each moves with a conditional UPDATE, so two callers never record one twice.
    3. The dead task's django-q queue entry is removed: it would otherwise stay locked for
       the broker's retry period (Q_TIMEOUT) and then run the job a second time.
    4. A worker killed during a bulk load leaves its table without the HNSW index: build it.
    """
    found = list(EmbeddingJob.objects.orphaned().values_list("pk", "status"))
    interrupted, cancelled = [], 0
    for job_id, status in found:
        one = EmbeddingJob.objects.filter(pk=job_id)
        if status == Status.CANCELLING:
            cancelled += one.move(
                Status.CANCELLED, from_=[Status.CANCELLING], finished_at=timezone.now()
            )
        elif one.move(Status.INTERRUPTED, from_=[Status.RUNNING], last_error=WORKER_GONE):
            interrupted.append(job_id)
    if found:
        _forget_queue_entries({job_id for job_id, _ in found})
    for job_id, _ in found:
        _restore_index(job_id)
    return interrupted, cancelled


WORKER_GONE = "Its worker stopped (the process ended before the job did); resume to go on."


def _forget_queue_entries(job_ids: set[int]) -> None:
    """Delete the in-flight queue entries of dead workers' tasks for these jobs."""
    for entry in _queue_entries(job_ids, taken=True):
        entry.delete()


def _queue_entries(job_ids: set[int], *, taken: bool) -> Iterator[OrmQ]:
    """The queue's entries of these jobs' tasks: those a worker took, or those still waiting."""
    now = timezone.now()
    entries = OrmQ.objects.filter(lock__gt=now) if taken else OrmQ.objects.filter(lock__lte=now)
    for entry in entries:
        args = entry.task.get("args") or ()
        if entry.task.get("func") == RUN_JOB and args and args[0] in job_ids:
            yield entry


CRASH_LOOP = (
    "Its worker stopped again before finishing a single batch since the last automatic resume, "
    "so it was not started a third time (each try may pay for the same batch). Check the "
    "worker's log, then resume it by hand."
)


def recover_jobs() -> list[int]:
    """The schedule's watchdog (every minute): record jobs whose workers died and queue each
    one again, so a crash costs a minute at most. A job that died again without processing an
    item since the watchdog last queued it stays interrupted (see CRASH_LOOP). Returns the ids
    it queued."""
    interrupted, _ = _record_orphans()
    resumed = []
    for job in EmbeddingJob.objects.filter(pk__in=interrupted).order_by("pk"):
        one = EmbeddingJob.objects.filter(pk=job.pk)
        if job.recovered_at == job.processed:
            one.update(last_error=CRASH_LOOP)
            logger.warning("Job #%s stopped twice at the same point; left interrupted", job.pk)
            continue
        with contextlib.suppress(JobRefused):
            resume_job(job.pk)
            one.update(recovered_at=job.processed)
            resumed.append(job.pk)
    return resumed


def take_over(kind: str, model_key: str) -> EmbeddingJob | None:
    """The active job for this kind and model when all its workers are gone: recorded as
    interrupted and queued again, for the caller to work on itself (`generate_embeddings` run
    again after its shell was killed). None while a worker still has it."""
    try:
        key = _resolved(model_key).key
    except JobRefused:
        return None
    active = EmbeddingJob.objects.active().filter(kind=kind, model_key=key).first()
    if active is None or active.pk not in _record_orphans()[0]:
        return None
    with transaction.atomic():
        job = _locked(active.pk)
        _requeue(job)
    return job


def _resolved(model: str | ResolvedModel) -> ResolvedModel:
    """A model key from a form or a shell, resolved once; an unknown one refuses the job."""
    if isinstance(model, ResolvedModel):
        return model
    try:
        return resolve(model)
    except UnknownModel as exc:
        raise JobRefused(str(exc)) from None


def _already_running(kind: str, key: str) -> str:
    label = "movies" if kind == "movie" else "series"
    return f"A {label} job for {key} is already running"


def _locked(job_id: int) -> EmbeddingJob:
    return _get(job_id, EmbeddingJob.objects.select_for_update())


def _get(job_id: int, jobs: QuerySet[EmbeddingJob] | None = None) -> EmbeddingJob:
    job = (EmbeddingJob.objects.all() if jobs is None else jobs).filter(pk=job_id).first()
    if job is None:
        raise JobRefused(f"There is no job #{job_id}")
    return job


def _requeue(job: EmbeddingJob) -> None:
    job.status = Status.QUEUED
    job.recovered_at = None  # the watchdog sets it again when it is the one requeueing
    job.failed_batches_in_row = 0
    job.last_error = ""
    job.finished_at = None
    job.eta_seconds = None
    try:
        with transaction.atomic():
            job.save()
    except IntegrityError:
        raise JobRefused(_already_running(job.kind, job.model_key)) from None


RUN_JOB = "embeddings.jobs.run_job"


def _enqueue(job: EmbeddingJob) -> None:
    task_id = async_task(RUN_JOB, job.pk, spread=True, task_name=TASK_NAMES[job.kind])
    EmbeddingJob.objects.filter(pk=job.pk).update(task_id=str(task_id or ""))


def _spread(job_id: int, provider: Provider) -> None:
    """Call one more free worker in: queue another task for the job, unless one already waits
    for a worker or `JOB_WORKERS` work on it. Each worker that joins and finds work does the
    same, so a job spreads over every free worker, one queue poll apart. A task still waiting
    when the job ends finds nothing to do and ends at once.

    A local model's job stays where it is: sentence-transformers uses every core of its machine,
    and a second copy of the model on the same cores only shares them."""
    if provider.model.provider == "local" or Conf.SYNC:
        return  # (Conf.SYNC: tasks run inline, in this very worker: there is no other)
    with transaction.atomic():
        # The job's row lock makes workers joining at the same moment queue one task, not each.
        kind = (
            EmbeddingJob.objects.select_for_update()
            .filter(pk=job_id, status=Status.RUNNING)
            .values_list("kind", flat=True)
            .first()
        )
        if kind is None or workers_on(job_id) >= settings.JOB_WORKERS:
            return
        if next(_queue_entries({job_id}, taken=False), None) is None:
            async_task(RUN_JOB, job_id, spread=True, task_name=TASK_NAMES[kind])


# --- Selecting what needs work ------------------------------------------------------------------


def pending_work(
    items: QuerySet[CatalogItem],
    table: type[EmbeddingBase],
    model_key: str,
    mode: str,
    since: datetime | None,
) -> tuple[list[Work], int]:
    """What of `items` needs embedding under `mode`, in id order, and how many need nothing
    (no usable text, or already up to date). `since`: rows written after it count as done
    (what makes an `all` job resumable). SQL picks the items (`embeddings.jobs.stale`); only their
    texts are built."""
    fetched = needing_work(items, table, model_key, mode, since).order_by("id")
    work = []
    for item_id, *fields in fetched.values_list("id", *TEXT_FIELDS).iterator(chunk_size=2000):
        text = item_text(ItemFields(*fields))
        if text:  # a text_hash written by a path that bypassed the model may lag behind
            work.append(Work(item_id, text, source_hash(text)))
    return work, items.count() - len(work)


def _up_to_date(
    mode: str,
    digest: str,
    stored_hash: str | None,
    stored_at: datetime | None,
    since: datetime | None,
) -> bool:
    if stored_hash is None:
        return False
    if since is not None and stored_at is not None and stored_at >= since:
        return True
    if mode == Mode.ALL:
        return False
    return mode == Mode.MISSING or stored_hash == digest


# --- Embedding and storing ----------------------------------------------------------------------


def store_vectors(
    table: type[EmbeddingBase],
    model_key: str,
    work: Sequence[Work],
    vectors: Sequence[Sequence[float]] | np.ndarray,
) -> None:
    """Upsert one batch; running it twice leaves the same rows."""
    table.objects.upsert(model_key, [(w.item_id, w.hash) for w in work], vectors)


def embed_batch(
    provider: Provider, work: list[Work]
) -> tuple[list[Work], np.ndarray, list[tuple[Work, str]]]:
    """Embed a batch: (embedded, their vectors, a row each, failures with reasons). A provider
    that is down fails the whole batch; a request refused for its content is retried item by
    item, so one bad item does not take its neighbours down with it."""
    nothing = np.empty((0, provider.dimensions))
    try:
        return work, provider.embed_array([w.text for w in work]), []
    except EmbeddingError as exc:
        if exc.retryable or len(work) == 1:
            return [], nothing, [(w, str(exc)) for w in work]
    embedded, vectors, failures = [], [nothing], []
    for w in work:
        try:
            vectors.append(provider.embed_array([w.text]))
            embedded.append(w)
        except EmbeddingError as exc:
            failures.append((w, str(exc)))
    return embedded, np.vstack(vectors), failures


def embed_items(item_ids: list[int], model: str | ResolvedModel) -> EmbedResult:
    """Embed these items now, in this process (missing or changed ones; up-to-date and empty
    ones are skipped)."""
    provider = get_provider(_resolved(model))
    table = provider.model.table
    items = CatalogItem.objects.filter(id__in=item_ids)
    work, skipped = pending_work(items, table, provider.key, Mode.STALE, None)
    result = EmbedResult(skipped=skipped)
    for start in range(0, len(work), settings.EMBEDDING_BATCH_SIZE):
        embedded, vectors, failures = embed_batch(
            provider, work[start : start + settings.EMBEDDING_BATCH_SIZE]
        )
        store_vectors(table, provider.key, embedded, vectors)
        result.done += len(embedded)
        result.failed += len(failures)
        result.errors += sorted({reason for _, reason in failures})
    return result


# --- Running a job ------------------------------------------------------------------------------


ProgressCallback = Callable[[EmbeddingJob], None]


@dataclass
class WorkerReport:
    """What one worker's run did (the job's own counts add up every worker's)."""

    status: str = ""
    embedded: int = 0
    failed: int = 0


def run_job(
    job_id: int,
    *,
    provider: Provider | None = None,
    on_progress: ProgressCallback | None = None,
    spread: bool = False,
) -> str:
    """Work on a job until nothing is left, or it is cancelled, capped or failing; return its
    status. Any number of workers may run this for the same job at once.

    1. Join the job; the first worker counts the total and what needs nothing.
    2. List what still needs work; claim it a full batch at a time (advisory locks on the
       items, skipping those other workers hold) and check again under the claim, since
       another worker may have just done it.
    3. Embed the batch, then upsert its rows and count it in one transaction: a worker killed
       mid-batch loses the batch and nothing else.
    4. After each batch: heartbeat, rate and ETA; stop on cancel or too many failed batches.
    5. When a pass finds nothing left, the job is complete; bring the lexical rows up to date,
       then try the automatic cut-over.

    A queued task spreads the job (`spread`): once it has a batch, it calls one more free
    worker in (see `_spread`).
    """
    return work_on_job(job_id, provider=provider, on_progress=on_progress, spread=spread).status


def work_on_job(
    job_id: int,
    *,
    provider: Provider | None = None,
    on_progress: ProgressCallback | None = None,
    spread: bool = False,
) -> WorkerReport:
    """`run_job`, reporting what this worker did itself."""
    report = WorkerReport()
    # This session's lock says "a worker is on it" until the process ends, however it ends.
    hold_job(job_id)
    mark_interrupted()  # a worker coming up is where jobs orphaned by a dead one are found
    key = EmbeddingJob.objects.filter(pk=job_id).values_list("model_key", flat=True).first()
    with log_context(job_id=job_id, model_key=key):
        try:
            report.status = _work(job_id, provider, on_progress, report, spread)
        except Exception as exc:
            # A bug or a lost database must not leave the job "running" until its heartbeat ages.
            logger.exception(
                "Embedding job #%s stopped by an unexpected error",
                job_id,
                extra=_event("job_crashed"),
            )
            with contextlib.suppress(DatabaseError):
                _stop(job_id, Status.FAILED, f"Unexpected error: {type(exc).__name__}: {exc}")
            raise
        finally:
            with contextlib.suppress(DatabaseError):
                release_job(job_id)
    return report


def _event(name: str) -> dict[str, str]:
    """What a log call passes as `extra` to name its event in structured logs."""
    return {"event": name}


def _work(
    job_id: int,
    provider: Provider | None,
    on_progress: ProgressCallback | None,
    report: WorkerReport,
    spread: bool,
) -> str:
    key = EmbeddingJob.objects.values_list("model_key", flat=True).get(pk=job_id)
    try:
        provider = provider or get_provider(key)
    except (UnknownModel, EmbeddingError) as exc:
        return _stop(job_id, Status.FAILED, str(exc), also_queued=True)
    provider.on_wait = _waiting(job_id)
    table = provider.model.table
    job = _join(job_id, table)
    if job is None:
        return EmbeddingJob.objects.values_list("status", flat=True).get(pk=job_id)
    meter = _Meter(job)
    while True:
        claimed_any = False
        batches = _claimed_batches(job, table)
        while True:
            if (status := _stopping(job_id)) is not None:
                return status
            if (batch := next(batches, None)) is None:
                break
            if spread:
                _spread(job_id, provider)
                spread = False
            claimed_any = True
            outcome = _run_batch(job, provider, table, batch)
            report.embedded += outcome.embedded
            report.failed += outcome.failed
            current = meter.update(job_id)
            if on_progress:
                on_progress(current)
            if (status := _verdict(current, outcome)) is not None:
                return status
        if not _pending_items(job, table).exists():
            return _complete(job_id, on_progress)
        if not claimed_any:
            # The rest is in other workers' hands; they finish the job.
            return Status.RUNNING


def _waiting(job_id: int) -> Callable[[EmbeddingError, float], None]:
    """While a batch waits out a provider's back-pressure or retries, the job page shows the
    provider's own error and the worker keeps beating."""

    def write(message: str) -> None:
        try:
            EmbeddingJob.objects.filter(pk=job_id).update(
                heartbeat_at=timezone.now(), last_error=message
            )
        finally:
            connection.close()

    def note(error: EmbeddingError, seconds: float) -> None:
        # On a connection of its own, closed after: the wait may happen in one of the
        # provider's request threads, which must not each keep a connection open.
        writer = threading.Thread(target=write, args=(f"Retrying in {seconds:.1f} s: {error}",))
        writer.start()
        writer.join()

    return note


def _join(job_id: int, table: type[EmbeddingBase]) -> EmbeddingJob | None:
    """Mark the job running; the first worker to join counts, in SQL, the total and what needs
    nothing (no text, or already up to date), without building a single text."""
    with transaction.atomic():
        job = EmbeddingJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status not in (Status.QUEUED, Status.RUNNING):
            return None
        now = timezone.now()
        first = job.started_at is None
        if first:
            job.started_at = now
            items = _items_of(job)
            # Nothing was written since a job that starts now: no `since` to look for.
            pending = needing_work(items, table, job.model_key, job.mode).count()
            job.total = items.count()
            job.skipped = job.total - pending
            if pending >= settings.JOB_BULK_LOAD_MIN_ITEMS and not table.objects.exists():
                # Nothing is served from an empty table: fill it without the HNSW index and
                # build the index once at the end, many times faster than growing it per row.
                drop_hnsw_index(table)
        job.status = Status.RUNNING
        job.heartbeat_at = now
        job.save()
    return job


def _refresh_lexical() -> None:
    """The items' lexical rows need no provider; a completed job brings them up to date. A
    failure there is logged and leaves the job completed: its vectors are stored."""
    try:
        lexical_rows.refresh()
    except Exception:
        logger.exception("Refreshing the lexical rows failed; the job goes on")


def _items_of(job: EmbeddingJob) -> QuerySet[CatalogItem]:
    return CatalogItem.objects.filter(kind=job.kind)


def _pending_items(job: EmbeddingJob, table: type[EmbeddingBase]) -> QuerySet[CatalogItem]:
    """What the job still has to do (items that failed in it wait for "Retry failed")."""
    items = _items_of(job).exclude(
        id__in=JobFailure.objects.filter(job_id=job.pk).values("item_id")
    )
    return needing_work(items, table, job.model_key, job.mode, job.started_at)


@dataclass(frozen=True)
class _Listed:
    """An item a pass has listed: its text is built only once a worker has claimed it."""

    item_id: int
    stored_hash: str
    fields: ItemFields
    size: int


def _chunks(job: EmbeddingJob, table: type[EmbeddingBase]) -> Iterator[list[_Listed]]:
    """One pass over what the job still has to do, `JOB_CHUNK_SIZE` items at a time in id
    order (keyset: each chunk starts after the last id of the one before), so a worker holds one
    chunk's fields whatever the catalog's size, and its first batch starts after one short
    query. Each chunk comes longest first (see `_by_size`)."""
    last_id = 0
    while True:
        rows = list(
            _pending_items(job, table)
            .filter(id__gt=last_id)
            .order_by("id")
            .values_list("id", "text_hash", *TEXT_FIELDS)[: settings.JOB_CHUNK_SIZE]
        )
        if not rows:
            return
        last_id = rows[-1][0]
        listed = []
        for item_id, stored_hash, *values in rows:
            fields = ItemFields(*values)
            listed.append(_Listed(item_id, stored_hash, fields, _size(fields)))
        yield _by_size(listed)


def _size(fields: ItemFields) -> int:
    """About the length of the item's text, without building it."""
    lists = fields.genres + fields.keywords + fields.cast
    return sum(map(len, (fields.title, fields.tagline, fields.overview, fields.director, *lists)))


def _by_size(listed: list[_Listed]) -> list[_Listed]:
    # Longest first, as sentence-transformers orders its own batches: texts of a batch have
    # similar lengths and pad little. Every worker sorts alike, so they still take turns.
    return sorted(listed, key=lambda row: (-row.size, row.item_id))


def _texts(job: EmbeddingJob, claimed: list[_Listed]) -> list[Work]:
    """The claimed items' texts. A stored `text_hash` that lags behind the text (a write that
    bypassed the model) is corrected here, so the next pass decides right; an item whose text
    turns out empty is counted as skipped, so the counts still add up to the total."""
    work, lagging, empty = [], [], 0
    for row in claimed:
        text = item_text(row.fields)
        digest = source_hash(text) if text else ""
        if digest != row.stored_hash:
            lagging.append(row.item_id)
        if text:
            work.append(Work(row.item_id, text, digest))
        else:
            empty += 1
    if lagging:
        CatalogItem.objects.filter(id__in=lagging).refresh_text_hashes()
    if empty:
        EmbeddingJob.objects.filter(pk=job.pk).update(skipped=F("skipped") + empty)
    return work


def _still_needed(
    job: EmbeddingJob, table: type[EmbeddingBase], chunk: list[Work], locked: list[int]
) -> list[Work]:
    """Of a claimed chunk, what another worker has not done (or failed) since it was listed:
    two small indexed reads instead of rebuilding the texts."""
    stored = {
        item_id: (digest, at)
        for item_id, digest, at in table.objects.filter(
            model_key=job.model_key, item_id__in=locked
        ).values_list("item_id", "source_hash", "created_at")
    }
    failed = set(
        JobFailure.objects.filter(job_id=job.pk, item_id__in=locked).values_list(
            "item_id", flat=True
        )
    )
    claimed = set(locked) - failed
    return [
        w
        for w in chunk
        if w.item_id in claimed
        and not _up_to_date(job.mode, w.hash, *_stored_of(stored, w.item_id), job.started_at)
    ]


def _stored_of(
    stored: dict[int, tuple[str, datetime]], item_id: int
) -> tuple[str | None, datetime | None]:
    return stored.get(item_id, (None, None))


@dataclass
class _Outcome:
    embedded: int
    failed: int
    error: str = ""
    capped: bool = False


def _claimed_batches(job: EmbeddingJob, table: type[EmbeddingBase]) -> Iterator[list[Work]]:
    """One pass over what the job still has to do, as batches this worker has claimed (the
    caller embeds each and releases its claims).

    1. Walk the work in the order every worker walks it (`_chunks`).
    2. Claim, in one statement, the next items no other worker holds, as many as the batch
       lacks (advisory locks, embeddings.worker_locks: no row is locked, so an admin's edit or
       an import never waits on us). What another worker holds is passed over for good.
    3. Build the texts of the items claimed, and only theirs: workers sharing a job each build
       the texts they embed, not every text of the chunk. Keep what still needs work (another
       worker may have just done it) and release the rest.
    4. Top the batch up from further along until it is full or the work runs out: workers
       sharing a job each still send full batches, never the crumbs between the others' (each
       request costs a remote provider's latency whatever its size).
    """
    chunks = _chunks(job, table)
    listed: list[_Listed] = []
    while True:
        batch: list[Work] = []
        try:
            while len(batch) < job.batch_size:
                if not listed and not (listed := next(chunks, [])):
                    break
                claimed, listed = _claim(job, table, listed, job.batch_size - len(batch))
                batch += claimed
        except BaseException:
            release_items(job.model_key, [w.item_id for w in batch])
            raise
        if not batch:
            return
        yield batch


CLAIM_WINDOW = 4


def _claim(
    job: EmbeddingJob, table: type[EmbeddingBase], listed: list[_Listed], wanted: int
) -> tuple[list[Work], list[_Listed]]:
    """(the items now claimed by this worker that still need work, at most `wanted`; what is
    listed after the last one claimed)."""
    # A few batches' worth of candidates at a time: enough to pass over what the other
    # workers hold, without sending (and indexing) the whole rest of the chunk for each batch.
    window = listed[: wanted * CLAIM_WINDOW]
    locked = claim_items(job.model_key, [row.item_id for row in window], limit=wanted)
    if not locked:
        return [], listed[len(window) :]  # all held by other workers
    position = {row.item_id: n for n, row in enumerate(window)}
    last = max(position[item_id] for item_id in locked)
    needed: list[Work] = []
    try:
        work = _texts(job, [listed[position[item_id]] for item_id in locked])
        needed = _still_needed(job, table, work, locked)
    finally:
        kept = {w.item_id for w in needed}
        release_items(job.model_key, [item_id for item_id in locked if item_id not in kept])
    return needed, listed[last + 1 :]


def _run_batch(
    job: EmbeddingJob, provider: Provider, table: type[EmbeddingBase], work: list[Work]
) -> _Outcome:
    """One claimed batch, its claims released after.

    1. Embed, with no transaction open: the provider may take its time.
    2. Store the vectors, the failures and the counts in one short transaction.
    """
    try:
        if job.spending_cap_usd is not None:
            _, cost = _price(provider, work)
            spent = EmbeddingJob.objects.values_list("cost_usd", flat=True).get(pk=job.pk)
            if spent + cost > job.spending_cap_usd:
                return _Outcome(
                    0,
                    0,
                    f"Stopped at the spending cap of ${job.spending_cap_usd} (spent ${spent:.4f}).",
                    capped=True,
                )
        embedded, vectors, failures = embed_batch(provider, work)
        with transaction.atomic():
            _store_batch(job, provider, table, embedded, vectors, failures)
    finally:
        release_items(job.model_key, [w.item_id for w in work])
    return _Outcome(len(embedded), len(failures), failures[-1][1] if failures else "")


def _store_batch(
    job: EmbeddingJob,
    provider: Provider,
    table: type[EmbeddingBase],
    embedded: list[Work],
    vectors: np.ndarray,
    failures: list[tuple[Work, str]],
) -> None:
    """A batch's rows, failures and counts (the caller holds one transaction around it)."""
    store_vectors(table, job.model_key, embedded, vectors)
    if failures:
        JobFailure.objects.bulk_create(
            [
                JobFailure(job_id=job.pk, item_id=w.item_id, reason=reason[:2000])
                for w, reason in failures
            ],
            ignore_conflicts=True,
        )
    tokens, cost = _price(provider, embedded) if embedded else (0, Decimal(0))
    error = failures[-1][1] if failures else ""
    EmbeddingJob.objects.filter(pk=job.pk).update(
        done=F("done") + len(embedded),
        failed=F("failed") + len(failures),
        tokens_used=F("tokens_used") + tokens,
        cost_usd=F("cost_usd") + cost,
        failed_batches_in_row=(F("failed_batches_in_row") + 1) if not embedded else 0,
        heartbeat_at=timezone.now(),
        **({"last_error": error} if error else {}),
    )


def _price(provider: Provider, work: Iterable[Work]) -> tuple[int, Decimal]:
    limit = provider.max_tokens
    tokens = sum(
        min(provider.count_tokens(w.text), limit) if limit else provider.count_tokens(w.text)
        for w in work
    )
    return tokens, provider.model.cost(tokens)


class _Meter:
    """Rate and ETA from this worker's run (time spent before a resume does not count)."""

    def __init__(self, job: EmbeddingJob) -> None:
        self.started = time.monotonic()
        self.baseline = job.done + job.failed

    def update(self, job_id: int) -> EmbeddingJob:
        job = EmbeddingJob.objects.get(pk=job_id)
        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate = max(job.done + job.failed - self.baseline, 0) / elapsed
        remaining = max(job.total - job.done - job.skipped - job.failed, 0)
        job.items_per_second = rate
        job.eta_seconds = remaining / rate if rate else None
        EmbeddingJob.objects.filter(pk=job_id).update(
            items_per_second=rate, eta_seconds=job.eta_seconds
        )
        return job


def _verdict(job: EmbeddingJob, outcome: _Outcome) -> str | None:
    """The status to stop with after a batch, or None to go on."""
    if outcome.capped:
        return _stop(job.pk, Status.CANCELLED, outcome.error)
    if job.status == Status.CANCELLING:
        return _stop(job.pk, Status.CANCELLED, "")
    if job.failed_batches_in_row >= settings.JOB_MAX_FAILED_BATCHES:
        return _stop(
            job.pk,
            Status.FAILED,
            f"{job.failed_batches_in_row} batches failed in a row. Last error: {job.last_error}",
        )
    if job.status != Status.RUNNING:
        return job.status
    return None


def _stopping(job_id: int) -> str | None:
    """Before each batch: a cancel asked for meanwhile ends the run here."""
    status = EmbeddingJob.objects.values_list("status", flat=True).get(pk=job_id)
    if status == Status.CANCELLING:
        return _stop(job_id, Status.CANCELLED, "")
    return None if status == Status.RUNNING else status


def _restore_index(job_id: int) -> None:
    """A job that ends, however it ends, leaves its table indexed again. A key that no longer
    resolves (a local model's folder removed meanwhile) names no table: every table missing its
    index gets it back."""
    key = EmbeddingJob.objects.values_list("model_key", flat=True).get(pk=job_id)
    try:
        tables = [resolve(key).table]
    except UnknownModel:
        tables = list(EMBEDDING_TABLES.values())
    for table in tables:
        ensure_hnsw_index(table)


def _stop(job_id: int, status: str, error: str, *, also_queued: bool = False) -> str:
    fields: dict[str, Any] = {"finished_at": timezone.now(), "eta_seconds": None}
    if error:
        fields["last_error"] = error
    stoppable = [Status.RUNNING, Status.CANCELLING] + ([Status.QUEUED] if also_queued else [])
    if EmbeddingJob.objects.filter(pk=job_id).move(status, from_=stoppable, **fields):
        logger.info(
            "Embedding job #%s stopped: %s %s", job_id, status, error, extra=_event(f"job_{status}")
        )
    _restore_index(job_id)
    return EmbeddingJob.objects.values_list("status", flat=True).get(pk=job_id)


def _complete(job_id: int, on_progress: ProgressCallback | None) -> str:
    completed = EmbeddingJob.objects.filter(pk=job_id).move(
        Status.COMPLETED,
        from_=EmbeddingJob.BEATING_STATUSES,
        finished_at=timezone.now(),
        eta_seconds=0,
    )
    _restore_index(job_id)
    if completed:
        # After the vectors, so the first batch never waits for it; before the quality
        # measurement, which scores the lexical and hybrid blends too.
        _refresh_lexical()
    job = EmbeddingJob.objects.get(pk=job_id)
    logger.info(
        "Embedding job #%s ended %s: %s done, %s skipped, %s failed of %s",
        job_id, job.status, job.done, job.skipped, job.failed, job.total,
        extra=_event(f"job_{job.status}"),
    )  # fmt: skip
    if on_progress:
        on_progress(job)
    if completed:
        quality.measure_soon(job.model_key)
    if completed and maybe_cut_over():
        logger.info(
            "Embedding job #%s completed the set of %s; it now serves",
            job_id,
            job.model_key,
            extra=_event("model_cut_over"),
        )
    return job.status
