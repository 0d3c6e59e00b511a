"""The django-q2 broker: the ORM broker, except that a cluster takes a task from the queue only
when one of its workers is free to start it at once.

django-q's pusher takes tasks ahead of its workers: a one-worker cluster holds up to three (one
running, one in its in-memory queue, one waiting in the pusher). A regeneration job runs for
hours, so a task held behind it waits for hours too, while other clusters, on this machine or
others, sit idle with nothing in the queue to take. Here a cluster's processes share a small
table of its workers (forked from the sentinel, so every worker and the pusher see the same
memory):

1. A worker records its pid when it starts, and whether it is running a task (django-q's
   `pre_execute` and `post_execute_in_worker` signals, sent in the worker itself).
2. The pusher counts the tasks it has handed to the workers that no worker has started yet.
3. It takes a task only while some live worker is idle and no task already waits for it.

A worker that dies is simply not counted: its pid is gone, and the worker the sentinel starts
in its place takes a free slot. Tasks still wait in PostgreSQL, where any cluster can take them.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from time import sleep
from typing import Any

from django_q.brokers.orm import ORM
from django_q.conf import Conf
from django_q.signals import post_execute_in_worker, post_spawn, pre_execute
from django_q.signing import BadSignature, SignedPackage

logger = logging.getLogger(__name__)


class WorkerTable:
    """Which of a cluster's worker processes are alive and idle, in memory shared across the
    fork. Slots are twice the pool: a worker being replaced never leaves its successor out."""

    def __init__(self, workers: int) -> None:
        context = multiprocessing.get_context("fork")
        size = 2 * workers + 2
        self._pids = context.RawArray("i", size)
        self._busy = context.RawArray("b", size)
        self._handed = context.RawValue("i", 0)
        self._lock = context.Lock()

    def arrive(self, pid: int) -> None:
        with self._lock:
            for slot, holder in enumerate(self._pids):
                if holder == pid or not holder or not _alive(holder):
                    self._pids[slot], self._busy[slot] = pid, 0
                    return
        logger.warning("Worker %s found no free slot; its cluster will not count it", pid)

    def start(self, pid: int) -> None:
        """A worker starts a task: it is busy, and the task no longer waits for a worker."""
        with self._lock:
            self._handed.value = max(0, self._handed.value - 1)
            self._set_busy(pid, 1)

    def finish(self, pid: int) -> None:
        with self._lock:
            self._set_busy(pid, 0)

    def free(self) -> int:
        """Idle live workers, less the tasks already handed to them and not yet started."""
        with self._lock:
            idle = sum(
                1
                for pid, busy in zip(self._pids, self._busy, strict=True)
                if pid and not busy and _alive(pid)
            )
            return idle - int(self._handed.value)

    def hand(self, count: int) -> None:
        with self._lock:
            self._handed.value += count

    def _set_busy(self, pid: int, busy: int) -> None:
        for slot, holder in enumerate(self._pids):
            if holder == pid:
                self._busy[slot] = busy
                return


def _alive(pid: int) -> bool:
    """Whether the process runs (a zombie, dead but not yet reaped, does not)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return False


# One table per process tree: made by the first broker of a process (in a qcluster, the
# sentinel's, before it forks the workers and the pusher), inherited by every fork after it.
_table: WorkerTable | None = None


def _worker_table() -> WorkerTable:
    global _table
    if _table is None:
        _table = WorkerTable(int(Conf.WORKERS or 1))
    return _table


class HandOffBroker(ORM):  # type: ignore[misc]  # django-q2 ships no type hints
    """The ORM broker; `dequeue` takes a task only for a worker that can start it now."""

    def __init__(self, list_key: str | None = None) -> None:
        super().__init__(list_key=list_key or Conf.CLUSTER_NAME)
        self.workers = _worker_table()

    def dequeue(self) -> list[tuple[Any, Any]] | None:
        if self.workers.free() <= 0:
            sleep(Conf.POLL)
            return None
        tasks: list[tuple[Any, Any]] | None = super().dequeue()
        if tasks:
            # The pusher drops a task it cannot read, so only a readable one waits for a worker.
            self.workers.hand(sum(1 for _, payload in tasks if _readable(payload)))
        return tasks


def _readable(payload: Any) -> bool:
    try:
        SignedPackage.loads(payload)
    except (TypeError, BadSignature):
        return False
    return True


def _arrived(**_: Any) -> None:
    _worker_table().arrive(os.getpid())


def _started(**_: Any) -> None:
    _worker_table().start(os.getpid())


def _finished(**_: Any) -> None:
    _worker_table().finish(os.getpid())


post_spawn.connect(_arrived, dispatch_uid="reclio-worker-arrived")
pre_execute.connect(_started, dispatch_uid="reclio-worker-started")
post_execute_in_worker.connect(_finished, dispatch_uid="reclio-worker-finished")
