"""The admin's switch actions: the active set keeps answering while a new one is built beside it.

A switch goes: `begin_switch` (the new model becomes the building one and its movie and
series jobs start) → the jobs fill its table → `cutover.maybe_cut_over` makes it active once it
covers the whole catalog (or an admin calls `switch_now`). The old set stays in its table, so
`switch_back` is instant until someone deletes it on the storage page.

Each action writes what it changed to the admin log (`audit`) inside its own transaction.
`switch_now` and `switch_back` take the key the person confirmed (`expect`): when the switch
changed in between (another admin, or the cut-over), they refuse instead of serving a model
nobody confirmed.
"""

from __future__ import annotations

import contextlib
from typing import Any

from django.db import transaction

from catalog.models import CatalogItem
from embeddings import quality
from embeddings.jobs import JobRefused, cancel_job, start_job
from embeddings.models import EmbeddingJob, EmbeddingSettings
from embeddings.registry import ResolvedModel
from embeddings.storage import (
    delete_model_set,
    set_coverage,
    set_exists,
    stored_set_exists,
)
from embeddings.switching import audit
from embeddings.switching.cutover import maybe_cut_over


class SwitchRefused(Exception):
    """A switch that cannot happen now, with the reason a person reads."""


def begin_switch(model: ResolvedModel, user: Any = None) -> list[EmbeddingJob]:
    """Start building `model` beside the active set; returns the jobs started.

    1. Lock the settings row, so a double click or a second admin waits here and then finds the
       switch already under way instead of starting a second set of jobs.
    2. Refuse what makes no sense: the active model, or a second switch while one runs.
    3. Record the model being built, then start one job per kind the catalog holds: "stale"
       when part of the set exists from an earlier attempt (what is missing, and what was
       embedded from a text that has changed since), else "all".
    4. Cut over at once when the set happens to be complete already.
    """
    key = model.key
    with transaction.atomic():
        config = EmbeddingSettings.locked()
        if key == config.active_key:
            raise SwitchRefused(f"Nothing to do: {key} is already the active model.")
        if config.building_key == key:
            raise SwitchRefused(f"Already under way: {key} is being built.")
        if config.building_key:
            raise SwitchRefused(
                f"Another switch is under way ({config.building_key}); abandon it first."
            )
        config.active_model_key = config.active_key
        config.building_model_key = key
        config.save()
        audit.record(user, f"{audit.STARTED} {key}; {config.active_key} keeps serving", key)
        mode = EmbeddingJob.Mode.STALE if set_exists(model) else EmbeddingJob.Mode.ALL
        kinds = CatalogItem.objects.order_by().values_list("kind", flat=True).distinct()
        jobs = []
        for kind in sorted(set(kinds)):
            try:
                jobs.append(start_job(kind, model, mode, user=user))
            except JobRefused as exc:
                raise SwitchRefused(str(exc)) from None
    maybe_cut_over()
    return jobs


def _confirmed(expect: str | None, key: str) -> None:
    if expect is not None and expect != key:
        raise SwitchRefused(
            f"The switch changed since you confirmed it (you confirmed {expect or 'nothing'}, "
            f"it would now serve {key}). Nothing was changed; look again and confirm."
        )


def switch_now(user: Any = None, *, expect: str | None = None) -> str:
    """Make the model being built active before its set is complete; its jobs keep filling it.
    Past a held quality gate this is "switch anyway", and the log says so."""
    with transaction.atomic():
        config = EmbeddingSettings.locked()
        key = config.building_key
        if not key:
            raise SwitchRefused("No model is being built.")
        _confirmed(expect, key)
        old = config.active_key
        coverage = set_coverage(key)
        held = coverage is not None and coverage.complete and quality.gate(key, old).state == "held"
        config.cut_over()
        config.save()
        how = audit.SWITCHED_ANYWAY if held else audit.SWITCHED_NOW
        audit.record(user, f"{how}: {old} → {key}, {key} covering {audit.covered(coverage)}", key)
        return key


def switch_back(user: Any = None, *, expect: str | None = None) -> str:
    """Make the previous model active again; instant, because its vectors are still stored."""
    with transaction.atomic():
        config = EmbeddingSettings.locked()
        previous = config.previous_model_key
        if not previous:
            raise SwitchRefused("There is no previous model to switch back to.")
        _confirmed(expect, previous)
        if not stored_set_exists(previous):
            raise SwitchRefused(f"The vectors of {previous} were deleted; build it again instead.")
        old = config.active_key
        config.previous_model_key = old
        config.active_model_key = previous
        if config.building_key == previous:
            config.building_model_key = ""
        config.save()
        coverage = audit.covered(set_coverage(previous))
        audit.record(
            user,
            f"{audit.SWITCHED_BACK}: {old} → {previous}, {previous} covering {coverage}",
            previous,
        )
        return previous


def abandon_switch(user: Any = None) -> str:
    """Stop building the new model: cancel its jobs and keep the vectors already made."""
    with transaction.atomic():
        config = EmbeddingSettings.locked()
        key = config.building_key
        if not key:
            raise SwitchRefused("No model is being built.")
        config.building_model_key = ""
        config.save()
        made = audit.covered(set_coverage(key))
        audit.record(
            user,
            f"{audit.ABANDONED} {key} at {made}, kept; {config.active_key} keeps serving",
            key,
        )
    running = EmbeddingJob.objects.active().filter(model_key=key)
    for job_id in running.values_list("id", flat=True):
        # A job that ended between the query and the cancel has nothing left to stop.
        with contextlib.suppress(JobRefused):
            cancel_job(job_id)
    return key


def delete_stored_set(model_key: str, user: Any = None) -> int:
    """Delete a model's stored vectors (`storage.delete_model_set`, which refuses the active and
    the building model) and log it; returns how many were deleted."""
    with transaction.atomic():
        deleted = delete_model_set(model_key)
        audit.record(
            user, f"{audit.DELETED} {model_key}: {deleted:,} vectors", model_key, deletion=True
        )
    return deleted
