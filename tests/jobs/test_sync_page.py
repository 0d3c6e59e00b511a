"""The content syncs on the jobs page: who starts, cancels and resumes them, the rows htmx
refreshes, and the daily sync that runs TMDb before the stale jobs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_q.models import OrmQ

from catalog.models import CatalogItem, SyncEntry, SyncJob
from catalog.tmdb.control import today
from embeddings import tasks
from embeddings.models import EmbeddingJob, EmbeddingSettings
from tests.conftest import make_item
from tests.fakes.tmdb_server import FakeTMDb, movie
from tests.jobs.conftest import LOCAL_MODEL

pytestmark = pytest.mark.django_db
Status = SyncJob.Status
HTMX: dict[str, Any] = {"HTTP_HX_REQUEST": "true"}


def a_sync(status: str = Status.COMPLETED, **fields: Any) -> SyncJob:
    values: dict[str, Any] = {"since": today() - timedelta(days=1), "until": today()}
    values |= {"listed": True, "total": 10, "updated": 4, "unchanged": 3, "missing": 1}
    values |= {"skipped": 1, "started_at": timezone.now(), "finished_at": timezone.now()}
    return SyncJob.objects.create(status=status, **(values | fields))


@pytest.mark.parametrize(
    ("role", "expected"),
    [("admin", 302), ("staff", 302), ("curator", 403), ("outsider", 403), ("anonymous", 302)],
)
def test_only_staff_and_admins_can_start_a_sync(
    role_clients: dict[str, Client], role: str, expected: int, fake_tmdb: FakeTMDb
) -> None:
    response = role_clients[role].post(reverse("embeddings:sync_start"), {"pages": "1"})

    assert response.status_code == expected
    assert SyncJob.objects.count() == (1 if expected == 302 and role != "anonymous" else 0)


def test_starting_a_sync_queues_it_with_its_charts_and_a_second_start_is_refused(
    staff_client: Client, fake_tmdb: FakeTMDb
) -> None:
    form = {"since": "2026-11-01", "charts": ["movie:popular", "series:top_rated"], "pages": "3"}

    first = staff_client.post(reverse("embeddings:sync_start"), form, follow=True)
    second = staff_client.post(reverse("embeddings:sync_start"), form, follow=True)

    sync = SyncJob.objects.get()
    assert (str(sync.since), sync.charts, sync.chart_pages, sync.status) == (
        "2026-11-01", ["movie:popular", "series:top_rated"], 3, Status.QUEUED,
    )  # fmt: skip
    assert sync.created_by is not None and sync.created_by.username == "sam"
    [entry] = OrmQ.objects.all()
    assert entry.task["func"] == "embeddings.tasks.run_content_sync"
    assert entry.task["args"] == (sync.pk,)
    assert f"Started sync #{sync.pk}" in first.content.decode()
    assert "A content sync is already running" in second.content.decode()


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"since": "yesterday"}, "The first day must be a date such as 2026-11-01."),
        ({"charts": "movie:upcoming"}, "The sync reads no TMDb chart movie:upcoming."),
        ({"pages": "501"}, "The pages of each chart must be at most 500."),
        ({"pages": "many"}, "The pages of each chart must be a whole number."),
    ],
)
def test_a_malformed_sync_form_says_what_is_wrong_and_starts_nothing(
    staff_client: Client, form: dict[str, str], message: str
) -> None:
    page = staff_client.post(reverse("embeddings:sync_start"), form, follow=True)

    assert message in page.content.decode()
    assert not SyncJob.objects.exists()


def test_the_page_shows_each_sync_with_its_counts_and_the_titles_it_reported(
    curator_client: Client,
) -> None:
    sync = a_sync()
    SyncEntry.objects.create(
        job=sync, kind="movie", tmdb_id=404, outcome="missing", reason="TMDb answered 404: no such title",
        title="Withdrawn film",
    )  # fmt: skip

    page = curator_client.get(reverse("embeddings:jobs")).content.decode()

    assert "4 updated / 3 unchanged / 0 added / 1 not on TMDb / 1 skipped of 10" in page
    assert "movie 404 (Withdrawn film): not on TMDb any more, TMDb answered 404" in page
    assert "Completed" in page
    # Curators look; they do not get the buttons.
    assert "Sync from TMDb</button>" not in page


def test_staff_get_the_sync_form_only_when_a_tmdb_key_is_set(
    staff_client: Client, settings: Any
) -> None:
    settings.TMDB_API_KEY = ""
    without = staff_client.get(reverse("embeddings:jobs")).content.decode()
    settings.TMDB_API_KEY = "0123456789abcdef0123456789abcdef"
    with_key = staff_client.get(reverse("embeddings:jobs")).content.decode()

    assert "No TMDb key: set <code>TMDB_API_KEY</code>" in without
    assert "Sync from TMDb</button>" not in without
    assert "Sync from TMDb</button>" in with_key
    assert "0123456789abcdef0123456789abcdef" not in with_key


def test_a_queued_sync_row_polls_while_it_reads_the_change_lists(staff_client: Client) -> None:
    queued = a_sync(Status.QUEUED, listed=False, finished_at=None)

    row = staff_client.get(reverse("embeddings:sync_row", args=[queued.pk]), **HTMX)

    assert row.content.decode().lstrip().startswith(f'<tr id="sync-{queued.pk}"')
    assert 'hx-trigger="every 1s"' in row.content.decode()
    assert "Reading TMDb" in row.content.decode()


def test_a_sync_whose_worker_died_shows_interrupted_with_a_resume_button(
    staff_client: Client,
) -> None:
    dead = a_sync(Status.RUNNING, finished_at=None)  # no session holds its lock

    row = staff_client.get(reverse("embeddings:sync_row", args=[dead.pk]), **HTMX)

    assert "Interrupted" in row.content.decode()
    assert "Resume</button>" in row.content.decode()
    assert "hx-trigger" not in row.content.decode()


def test_cancel_and_resume_answer_with_the_row_and_resume_queues_the_sync(
    staff_client: Client,
) -> None:
    sync = a_sync(Status.QUEUED, finished_at=None)

    cancelled = staff_client.post(reverse("embeddings:sync_cancel", args=[sync.pk]), **HTMX)
    resumed = staff_client.post(reverse("embeddings:sync_resume", args=[sync.pk]), **HTMX)
    again = staff_client.post(reverse("embeddings:sync_resume", args=[sync.pk]), **HTMX)

    assert "Cancelled" in cancelled.content.decode()
    assert "Queued" in resumed.content.decode()
    assert "only stopped syncs resume" in again.content.decode()
    assert SyncJob.objects.get().status == Status.QUEUED
    assert OrmQ.objects.count() == 1


@pytest.mark.parametrize("name", ["sync_cancel", "sync_resume"])
def test_sync_actions_refuse_curators_and_answer_get_with_405(
    role_clients: dict[str, Client], name: str
) -> None:
    sync = a_sync(Status.INTERRUPTED)
    url = reverse(f"embeddings:{name}", args=[sync.pk])

    assert role_clients["curator"].post(url).status_code == 403
    assert role_clients["outsider"].post(url).status_code == 403
    assert role_clients["staff"].get(url).status_code == 405
    assert SyncJob.objects.get().status == Status.INTERRUPTED


def test_a_sync_post_without_the_csrf_token_is_refused(staff_user: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_user)

    response = client.post(reverse("embeddings:sync_start"), {})

    assert response.status_code == 403
    assert not SyncJob.objects.exists()


def test_the_queued_task_runs_the_sync(fake_tmdb: FakeTMDb) -> None:
    fake_tmdb.add(movie(31, overview="From the worker."), changed=today())
    make_item(tmdb_id=31, title="Film 31")
    sync = SyncJob.objects.create(since=today(), until=today())

    assert tasks.run_content_sync(sync.pk) == Status.COMPLETED
    assert CatalogItem.objects.get(tmdb_id=31).overview == "From the worker."


def test_the_daily_sync_runs_tmdb_first_then_starts_the_stale_jobs(fake_tmdb: FakeTMDb) -> None:
    EmbeddingSettings.objects.update_or_create(pk=1, defaults={"active_model_key": LOCAL_MODEL})
    fake_tmdb.add(movie(32, overview="Changed overnight."), changed=today())
    make_item(tmdb_id=32, title="Film 32")

    started = tasks.daily_content_sync()

    assert CatalogItem.objects.get(tmdb_id=32).overview == "Changed overnight."
    assert SyncJob.objects.get().status == Status.COMPLETED
    assert sorted(job.kind for job in started) == ["movie", "series"]
    assert set(EmbeddingJob.objects.values_list("mode", flat=True)) == {"stale"}


def test_without_a_tmdb_key_the_daily_sync_only_embeds(settings: Any) -> None:
    settings.TMDB_API_KEY = ""
    EmbeddingSettings.objects.update_or_create(pk=1, defaults={"active_model_key": LOCAL_MODEL})

    started = tasks.daily_content_sync()

    assert not SyncJob.objects.exists()
    assert len(started) == 2
