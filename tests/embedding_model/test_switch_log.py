"""Every change of what serves is in Django's admin log: who, when, from which model to which;
the automatic cut-over as a system account that cannot log in."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import CHANGE, DELETION, LogEntry
from django.contrib.auth.models import User

from embeddings.models import Embedding384, EmbeddingSettings
from embeddings.storage import ProtectedModel
from embeddings.switching import audit
from embeddings.switching.actions import (
    SwitchRefused,
    abandon_switch,
    delete_stored_set,
    switch_back,
    switch_now,
)
from embeddings.switching.cutover import maybe_cut_over
from tests.conftest import make_item
from tests.embedding_model.switching import NEW, OLD, add_vector, set_settings

pytestmark = pytest.mark.django_db


def _one_entry() -> LogEntry:
    [entry] = LogEntry.objects.all()
    return entry


def test_switching_now_logs_who_switched_from_which_model_to_which(admin_user: User) -> None:
    heat, _ = make_item(title="Heat"), make_item(title="Ronin")
    add_vector(heat, NEW)
    set_settings(active_model_key=OLD, building_model_key=NEW)

    switch_now(admin_user, expect=NEW)

    entry = _one_entry()
    assert entry.user == admin_user
    assert entry.action_flag == CHANGE
    assert entry.object_repr == NEW
    assert entry.change_message == f"Switched now: {OLD} → {NEW}, {NEW} covering 1 of 2 items (50%)"


def test_switching_back_logs_the_old_sets_coverage(admin_user: User) -> None:
    heat, ronin = make_item(title="Heat"), make_item(title="Ronin")
    add_vector(heat, OLD)
    for item in (heat, ronin):
        add_vector(item, NEW)
    set_settings(active_model_key=NEW, previous_model_key=OLD)

    switch_back(admin_user, expect=OLD)

    assert _one_entry().change_message == (
        f"Switched back: {NEW} → {OLD}, {OLD} covering 1 of 2 items (50%)"
    )


def test_abandoning_a_switch_logs_what_was_built_and_what_keeps_serving(admin_user: User) -> None:
    add_vector(make_item(), NEW)
    set_settings(active_model_key=OLD, building_model_key=NEW)

    abandon_switch(admin_user)

    assert _one_entry().change_message == (
        f"Abandoned building {NEW} at 1 of 1 items (100%), kept; {OLD} keeps serving"
    )


def test_deleting_a_stored_set_logs_a_deletion_with_the_count(admin_user: User) -> None:
    for title in ("Heat", "Ronin"):
        add_vector(make_item(title=title), NEW)
    set_settings(active_model_key=OLD)

    assert delete_stored_set(NEW, admin_user) == 2

    entry = _one_entry()
    assert (entry.action_flag, entry.user, entry.object_repr) == (DELETION, admin_user, NEW)
    assert entry.change_message == f"Deleted the stored set of {NEW}: 2 vectors"


def test_a_refused_deletion_or_switch_logs_nothing(admin_user: User) -> None:
    add_vector(make_item(), OLD)
    set_settings(active_model_key=OLD)

    with pytest.raises(ProtectedModel):
        delete_stored_set(OLD, admin_user)
    with pytest.raises(SwitchRefused):
        switch_now(admin_user, expect=NEW)

    assert not LogEntry.objects.exists()
    assert Embedding384.objects.filter(model_key=OLD).count() == 1


def test_a_confirmation_of_another_model_changes_nothing(admin_user: User) -> None:
    """An admin confirmed a switch to one model; meanwhile another admin changed the switch."""
    add_vector(make_item(), NEW)
    other = "openai:text-embedding-3-small"
    set_settings(active_model_key=OLD, building_model_key=NEW, previous_model_key=other)

    with pytest.raises(SwitchRefused, match="changed since you confirmed it"):
        switch_now(admin_user, expect=other)
    with pytest.raises(SwitchRefused, match="changed since you confirmed it"):
        switch_back(admin_user, expect=OLD)

    config = EmbeddingSettings.load()
    assert (config.active_key, config.building_key) == (OLD, NEW)
    assert not LogEntry.objects.exists()


def test_a_change_without_a_person_is_logged_as_a_system_account_that_cannot_log_in() -> None:
    add_vector(make_item(), NEW)
    set_settings(active_model_key=OLD, building_model_key=NEW)

    switch_now(None, expect=NEW)

    system = _one_entry().user
    assert system.username == audit.SYSTEM_USERNAME
    assert not system.is_active
    assert not system.has_usable_password()
    [event] = audit.history()
    assert event.automatic


def test_the_automatic_cut_over_is_logged_as_the_system_account_with_the_full_coverage() -> None:
    """No collections in this catalog: the gate is open, and a complete set cuts over."""
    for title in ("Heat", "Ronin"):
        add_vector(make_item(title=title), NEW)
    set_settings(active_model_key=OLD, building_model_key=NEW)

    assert maybe_cut_over()

    entry = _one_entry()
    assert (entry.action_flag, entry.object_repr) == (CHANGE, NEW)
    assert entry.user.username == audit.SYSTEM_USERNAME
    assert entry.change_message == (
        f"Automatic cut-over: {OLD} → {NEW}, {NEW} covering 2 of 2 items (100%)"
    )
    [event] = audit.history()
    assert event.automatic


def test_a_cut_over_that_waits_for_the_set_to_be_complete_logs_nothing() -> None:
    add_vector(make_item(title="Heat"), NEW)
    make_item(title="Ronin")
    set_settings(active_model_key=OLD, building_model_key=NEW)

    assert not maybe_cut_over()

    assert not LogEntry.objects.exists()
    assert EmbeddingSettings.load().active_key == OLD


def test_the_history_lists_the_latest_ten_changes_newest_first(admin_user: User) -> None:
    item = make_item()
    for key in (OLD, NEW):
        add_vector(item, key)
    set_settings(active_model_key=NEW, previous_model_key=OLD)
    for _ in range(6):  # back and forth: 12 changes
        switch_back(admin_user)
        switch_back(admin_user)

    events = audit.history()

    assert len(events) == 10
    assert [e.who for e in events] == ["ada"] * 10
    assert events[0].what.startswith(f"Switched back: {OLD} → {NEW}")
    assert events[1].what.startswith(f"Switched back: {NEW} → {OLD}")
    assert events[0].when >= events[-1].when
