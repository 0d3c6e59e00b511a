"""PostgreSQL advisory locks that tie work to a live database session.

A worker on a job holds a session-level advisory lock on the job for as long as it works on it
(shared: several workers share a job). When its process dies, however it dies, PostgreSQL
closes the session and drops the lock at once, so "is anyone working on job N" is one look at
`pg_locks`, with no heartbeat to wait for.

A batch's items are claimed the same way, one lock per (model, item), taken with a `try` that
never waits and released when the batch is stored. Unlike `SELECT … FOR UPDATE`, these locks
hold no row: an admin editing an item, or an import, never waits for a provider call.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection
from django.db.models import BooleanField, IntegerField
from django.db.models.expressions import RawSQL

# The first key of the two-key form; the second is the job's id. "RE" "C1" in ASCII.
JOB_LOCKS = 0x52454331

# The sessions that hold a job's lock: of each row, in the annotations of EmbeddingJob
# querysets, or of one job (`workers_on`).
_HOLDERS_OF = (
    "FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted"
    " AND l.classid = %s AND l.objid = {job} AND l.objsubid = 2"
)
_HOLDERS = _HOLDERS_OF.format(job="embeddings_embeddingjob.id")
WORKER_ALIVE_SQL = f"EXISTS (SELECT 1 {_HOLDERS})"


def worker_alive() -> RawSQL:
    return RawSQL(WORKER_ALIVE_SQL, [JOB_LOCKS], output_field=BooleanField())


def worker_count() -> RawSQL:
    """How many sessions work on each job."""
    return RawSQL(f"(SELECT count(*) {_HOLDERS})", [JOB_LOCKS], output_field=IntegerField())


def no_worker() -> RawSQL:
    """The opposite of `worker_alive`, for a filter."""
    return RawSQL(f"NOT {WORKER_ALIVE_SQL}", [JOB_LOCKS], output_field=BooleanField())


def hold_job(job_id: int) -> None:
    """Mark this session as a worker on the job (once, however often it is called)."""
    if not _held_here(job_id):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock_shared(%s, %s)", [JOB_LOCKS, job_id])


def release_job(job_id: int) -> None:
    with connection.cursor() as cursor:
        while _held_here(job_id):
            cursor.execute("SELECT pg_advisory_unlock_shared(%s, %s)", [JOB_LOCKS, job_id])


def workers_on(job_id: int) -> int:
    """How many sessions work on the job now."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) {_HOLDERS_OF.format(job='%s')}", [JOB_LOCKS, job_id])
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def _held_here(job_id: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
            " AND classid = %s AND objid = %s AND objsubid = 2",
            [JOB_LOCKS, job_id],
        )
        return cursor.fetchone() is not None


def claim_items(model_key: str, item_ids: Iterable[int], limit: int | None = None) -> list[int]:
    """The first `limit` (all, without one) of these items, in their order, that no other
    worker is embedding for this model now, each now claimed by this session (until
    `release_items`). The locks are tried in the list's order and stop at `limit`: what lies
    beyond is not touched."""
    ids = list(item_ids)
    if not ids or limit == 0:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM unnest(%s::bigint[]) AS id"
            " WHERE pg_try_advisory_lock(hashtextextended(%s || ':' || id, 0)) LIMIT %s",
            [ids, model_key, limit],
        )
        return [row[0] for row in cursor.fetchall()]


def release_items(model_key: str, item_ids: Iterable[int]) -> None:
    ids = list(item_ids)
    if ids:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_unlock(hashtextextended(%s || ':' || id, 0))"
                " FROM unnest(%s::bigint[]) AS id",
                [model_key, ids],
            )
