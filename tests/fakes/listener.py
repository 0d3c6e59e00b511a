"""A loopback listener that only counts the connections it is offered: the stand-in for an
address nothing may reach (a cloud metadata service), on 127.0.0.2 by default so that no test
ever points at a real one. A test passes when `connections` is still 0."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Self

import pytest


class CountingListener:
    def __init__(self, host: str = "127.0.0.2") -> None:
        self.host = host
        self.connections = 0
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, 0))
        self._socket.listen(16)
        self._socket.settimeout(0.2)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def port(self) -> int:
        return int(self._socket.getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join()
        self._socket.close()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._socket.accept()
            except TimeoutError:
                continue
            self.connections += 1
            conn.close()


@pytest.fixture
def forbidden_target() -> Iterator[CountingListener]:
    """A listener standing in for a metadata service: it must see no connection."""
    listener = CountingListener().start()
    yield listener
    listener.stop()
