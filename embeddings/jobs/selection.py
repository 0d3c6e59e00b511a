"""What a job still has to do, and the batches of it a worker claims.

SQL decides what needs work (`embeddings.jobs.stale`); a pass walks it in id order a chunk at a
time, and each worker claims the next items no other worker holds, building the texts of those
alone. Any number of workers walk the same order and take turns.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import F, QuerySet

from catalog.models import CatalogItem
from embeddings.jobs.stale import needing_work
from embeddings.models import EmbeddingBase, EmbeddingJob, JobFailure
from embeddings.text import TEXT_FIELDS, ItemFields, item_text, source_hash
from embeddings.worker_locks import claim_items, release_items

Mode = EmbeddingJob.Mode

# Candidates a claim reads per item it wants (see `_claim`).
CLAIM_WINDOW = 4
# A batch is at most this share of a job's work, so a small job's bar moves every few percent
# and its rate is measured over several batches; and at least MIN_STEP items.
STEPS = 25
MIN_STEP = 4
# Batches of a chunk go out in the order of this sequence's fractional parts (see `_by_size`).
_GOLDEN = (math.sqrt(5) - 1) / 2


@dataclass(frozen=True)
class Work:
    item_id: int
    text: str
    hash: str


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


def items_of(job: EmbeddingJob) -> QuerySet[CatalogItem]:
    return CatalogItem.objects.filter(kind=job.kind)


def pending_items(job: EmbeddingJob, table: type[EmbeddingBase]) -> QuerySet[CatalogItem]:
    """What the job still has to do (items that failed in it wait for "Retry failed")."""
    items = items_of(job).exclude(id__in=JobFailure.objects.filter(job_id=job.pk).values("item_id"))
    return needing_work(items, table, job.model_key, job.mode, job.started_at)


def step(job: EmbeddingJob) -> int:
    """Items per batch: the job's batch size, less on a job with little work (see STEPS)."""
    work = job.total - job.skipped
    return min(job.batch_size, max(MIN_STEP, math.ceil(work / STEPS)))


def claimed_batches(job: EmbeddingJob, table: type[EmbeddingBase]) -> Iterator[list[Work]]:
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
    size = step(job)
    chunks = _chunks(job, table, size)
    listed: list[_Listed] = []
    while True:
        batch: list[Work] = []
        try:
            while len(batch) < size:
                if not listed and not (listed := next(chunks, [])):
                    break
                claimed, listed = _claim(job, table, listed, size - len(batch))
                batch += claimed
        except BaseException:
            release_items(job.model_key, [w.item_id for w in batch])
            raise
        if not batch:
            return
        yield batch


@dataclass(frozen=True)
class _Listed:
    """An item a pass has listed: its text is built only once a worker has claimed it."""

    item_id: int
    stored_hash: str
    fields: ItemFields
    size: int


def _chunks(job: EmbeddingJob, table: type[EmbeddingBase], size: int) -> Iterator[list[_Listed]]:
    """One pass over what the job still has to do, `JOB_CHUNK_SIZE` items at a time in id
    order (keyset: each chunk starts after the last id of the one before), so a worker holds one
    chunk's fields whatever the catalog's size, and its first batch starts after one short
    query. Each chunk comes in batches of like lengths (see `_by_size`)."""
    last_id = 0
    while True:
        rows = list(
            pending_items(job, table)
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
        yield _by_size(listed, size)


def _size(fields: ItemFields) -> int:
    """About the length of the item's text, without building it."""
    lists = fields.genres + fields.keywords + fields.cast
    return sum(map(len, (fields.title, fields.tagline, fields.overview, fields.director, *lists)))


def _by_size(listed: list[_Listed], size: int) -> list[_Listed]:
    """The chunk cut into batches of like lengths, as sentence-transformers orders its own (texts
    of a batch pad little), the batches spread over lengths: sorted longest first, then sent in
    the order of the fractional parts of n * 0.618… (a low-discrepancy sequence), so that any
    run of batches mixes long and short texts alike and the rate measured over a few of them
    holds for the rest. Every worker orders alike, so they still take turns."""
    ordered = sorted(listed, key=lambda row: (-row.size, row.item_id))
    batches = [ordered[start : start + size] for start in range(0, len(ordered), size)]
    spread = sorted(range(len(batches)), key=lambda n: (n * _GOLDEN) % 1)
    return [row for n in spread for row in batches[n]]


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
