"""A remote provider's side of pacing: its limits as connection fields, and what its requests
heard, kept until the embed call that sent them reports to `reclio_admin.outbound.pacing`.

A provider lists `quota_fields(name, label)` among its credentials; the connection form then
offers "requests a minute" and "tokens a minute" for it, read from the page, else from
`<NAME>_REQUESTS_PER_MINUTE` / `<NAME>_TOKENS_PER_MINUTE`."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping

from embeddings.providers.credentials import CredentialField, credential
from reclio_admin.outbound.pacing import Announced, Call, Limits

REQUESTS = "_requests_per_minute"
TOKENS = "_tokens_per_minute"


def quota_fields(name: str, label: str) -> tuple[CredentialField, CredentialField]:
    """The connection fields of a provider's limits (`name` is its key in the registry)."""
    return (
        CredentialField(f"{name}{REQUESTS}", f"{label} requests a minute", per_minute=True),
        CredentialField(f"{name}{TOKENS}", f"{label} tokens a minute", per_minute=True),
    )


def limits_of(fields: Iterable[CredentialField]) -> Limits:
    """The limits a provider's quota fields hold now (page, else environment)."""
    found: dict[str, int | None] = {REQUESTS: None, TOKENS: None}
    for field in fields:
        for suffix in found:
            if field.per_minute and field.name.endswith(suffix):
                value = credential(field).value
                found[suffix] = int(value) if value.isdigit() and int(value) > 0 else None
    return Limits(found[REQUESTS], found[TOKENS])


class Heard:
    """What the requests of one provider object heard, from any of its threads: each request
    (for /metrics) and the latest rate-limit headers (for the shared budget)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[Call] = []
        self._announced: Announced | None = None

    def add(self, call: Call, headers: Mapping[str, str] | None) -> None:
        announced = Announced.read(headers) if headers is not None else None
        with self._lock:
            self._calls.append(call)
            if announced is not None and announced.anything:
                self._announced = announced

    def take(self) -> tuple[list[Call], Announced | None]:
        """Everything heard since the last take, and forget it."""
        with self._lock:
            calls, announced = self._calls, self._announced
            self._calls, self._announced = [], None
        return calls, announced
