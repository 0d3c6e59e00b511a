"""A cluster takes a task from the queue only when one of its workers can start it at once."""

from __future__ import annotations

import os
import subprocess
import sys

from reclio_admin.task_queue import WorkerTable


def a_finished_process() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_an_idle_worker_makes_room_for_one_task_and_no_more() -> None:
    table = WorkerTable(workers=1)
    assert table.free() == 0  # no worker has started yet

    table.arrive(os.getpid())
    assert table.free() == 1

    table.hand(1)  # the pusher put a task in the cluster's queue
    assert table.free() == 0
    table.start(os.getpid())  # the worker took it
    assert table.free() == 0
    table.finish(os.getpid())
    assert table.free() == 1


def test_a_dead_worker_counts_for_nothing_and_its_successor_takes_its_slot() -> None:
    table = WorkerTable(workers=1)
    dead = a_finished_process()
    table.arrive(dead)
    table.start(dead)  # killed mid-task: it never finishes
    assert table.free() == 0

    for _ in range(5):  # successors, again and again: the table never fills up
        table.arrive(os.getpid())
    assert table.free() == 1


def test_tasks_handed_out_wait_for_as_many_idle_workers() -> None:
    table = WorkerTable(workers=2)
    helper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        table.arrive(os.getpid())
        table.arrive(helper.pid)
        table.hand(1)
        assert table.free() == 1
        table.hand(1)
        assert table.free() == 0
        table.start(os.getpid())
        table.start(helper.pid)
        assert table.free() == 0
        table.finish(helper.pid)
        assert table.free() == 1
    finally:
        helper.kill()
        helper.wait()
