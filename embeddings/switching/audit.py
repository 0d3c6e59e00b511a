"""Who changed what serves, and when: every switch, automatic cut-over, abandoned switch and
deleted stored set is a row of Django's admin log (`LogEntry`), written in the same transaction
as the change it records, so the log never claims a change that was rolled back.

The automatic cut-over has no person behind it: it is written as the `reclio-system` user, an
inactive account with no usable password (it cannot log in), created the first time it is needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.admin.models import CHANGE, DELETION, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType

from embeddings.models import EmbeddingSettings
from embeddings.storage import Coverage

SYSTEM_USERNAME = "reclio-system"
HISTORY_LENGTH = 10

# How each kind of change reads in the log and on the settings page.
STARTED = "Started building"
SWITCHED_NOW = "Switched now"
SWITCHED_ANYWAY = "Switched anyway past the held quality gate"
SWITCHED_BACK = "Switched back"
CUT_OVER = "Automatic cut-over"
ABANDONED = "Abandoned building"
DELETED = "Deleted the stored set of"


def system_user() -> Any:
    """The account the automatic cut-over is logged as; it cannot log in."""
    user, created = get_user_model().objects.get_or_create(
        username=SYSTEM_USERNAME, defaults={"is_active": False, "first_name": "Automatic"}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


def covered(coverage: Coverage | None) -> str:
    """ "128 of 11,027 items (1%)", as the log and the confirmation pages word coverage."""
    if coverage is None:
        return "coverage unknown"
    return f"{coverage.covered:,} of {coverage.total:,} items ({coverage.percent:.0f}%)"


def record(user: Any, what: str, model_key: str, *, deletion: bool = False) -> LogEntry:
    """Write one change to the admin log; `user` None means the system did it by itself."""
    actor = user if user is not None and user.is_authenticated else system_user()
    return LogEntry.objects.create(
        user_id=actor.pk,
        content_type=ContentType.objects.get_for_model(EmbeddingSettings),
        object_id="1",
        object_repr=model_key[:200],
        action_flag=DELETION if deletion else CHANGE,
        change_message=what,
    )


@dataclass(frozen=True)
class Event:
    """One line of the settings page's history."""

    when: datetime
    who: str
    automatic: bool
    what: str


def history(limit: int = HISTORY_LENGTH) -> list[Event]:
    """The latest changes of what serves, newest first."""
    entries = (
        LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(EmbeddingSettings))
        .select_related("user")
        .order_by("-action_time", "-id")[:limit]
    )
    return [
        Event(
            when=entry.action_time,
            who=entry.user.get_username(),
            automatic=entry.user.get_username() == SYSTEM_USERNAME,
            what=entry.change_message,
        )
        for entry in entries
    ]
