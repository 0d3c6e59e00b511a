"""Requests paced below TMDb's rate limit, every thread of a process together.

TMDb documents its limit as about 40 requests a second per address (with 50 as the hard
ceiling, past which it answers 429). The sync runs in one process at a time, so one pacer per
process keeps it below; a 429 that still comes is waited out by the client.
"""

from __future__ import annotations

import threading
import time


class Pacer:
    """Hands out one start time per request, `1 / rate` seconds apart, and sleeps the caller
    until its own: requests may overlap, but no more than `rate` start in any second."""

    def __init__(self, requests_per_second: float) -> None:
        self.interval = 1.0 / requests_per_second
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            time.sleep(start - now)

    def hold_off(self, seconds: float) -> None:
        """After a 429: no request of this process starts before `seconds` from now."""
        with self._lock:
            self._next = max(self._next, time.monotonic() + seconds)
