"""Requests paced below TMDb's rate limit, every thread of a process together.

TMDb documents its limit as about 40 requests a second per address (with 50 as the hard
ceiling, past which it answers 429). The sync runs in one process at a time, so one pacer per
process keeps it below; a 429 that still comes is waited out by the client.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque

CATCH_UP = 0.1  # seconds of missed slots a late start may still use


class Pacer:
    """Starts requests `1 / rate` seconds apart on average, and never more than `rate` in any
    second.

    The spacing alone would do on an idle machine; on a busy one, threads that woke late would
    send their requests together, and TMDb counts what arrives. So each start is recorded when it
    is granted, and a request waits while the last second already holds `rate` of them."""

    def __init__(self, requests_per_second: float) -> None:
        self.interval = 1.0 / requests_per_second
        self.per_second = max(1, math.floor(requests_per_second))
        self._next = 0.0
        self._started: deque[float] = deque()
        self._lock = threading.Lock()

    def wait(self) -> None:
        while True:
            with self._lock:
                now = time.monotonic()
                while self._started and self._started[0] <= now - 1.0:
                    self._started.popleft()
                # Slots follow each other `interval` apart whoever takes them, so a thread that
                # woke late does not push the rest back; a slot missed in the last CATCH_UP
                # seconds may still be taken (a few at once, never a second's worth).
                slot = max(self._next, now - CATCH_UP)
                ready = slot
                if len(self._started) >= self.per_second:
                    ready = max(ready, self._started[0] + 1.0)
                if ready <= now:
                    self._started.append(now)
                    self._next = slot + self.interval
                    return
            time.sleep(ready - now)

    def hold_off(self, seconds: float) -> None:
        """After a 429: no request of this process starts before `seconds` from now."""
        with self._lock:
            self._next = max(self._next, time.monotonic() + seconds)
