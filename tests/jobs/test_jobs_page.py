"""The jobs page: who sees and does what, the rows htmx refreshes, and the POST actions."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_q.models import OrmQ

from embeddings import tasks as schedules
from embeddings.models import EmbeddingJob, JobFailure
from tests.conftest import make_item
from tests.jobs.conftest import LOCAL_MODEL, LiveWorkers

pytestmark = pytest.mark.django_db
Status = EmbeddingJob.Status
HTMX: dict[str, Any] = {"HTTP_HX_REQUEST": "true"}


WORKERS: list[LiveWorkers] = []


@pytest.fixture(autouse=True)
def _workers(live_workers: LiveWorkers) -> Iterator[None]:
    WORKERS.append(live_workers)
    yield
    WORKERS.clear()


def a_job(
    status: str = Status.RUNNING, kind: str = "movie", *, worker: bool = True, **fields: object
) -> EmbeddingJob:
    """A job row; a running or cancelling one has a live worker on it unless `worker=False`."""
    values = {"total": 200, "done": 50, "skipped": 30, "failed": 0, "started_at": timezone.now()}
    values["heartbeat_at"] = timezone.now()
    # Its first batch is stored: the row shows the bar, not the model loading.
    values |= {"batch_ends": [time.time()], "batch_items": [50]}
    values.update(fields)
    job = EmbeddingJob.objects.create(kind=kind, model_key=LOCAL_MODEL, status=status, **values)
    if worker and status in EmbeddingJob.BEATING_STATUSES:
        WORKERS[0].hold(job.pk)
    return job


@pytest.mark.parametrize(
    ("role", "expected"),
    [("admin", 200), ("staff", 200), ("curator", 200), ("outsider", 403), ("anonymous", 302)],
)
def test_the_jobs_page_is_for_the_three_roles_only(
    role_clients: dict[str, Client], role: str, expected: int
) -> None:
    response = role_clients[role].get(reverse("embeddings:jobs"))

    assert response.status_code == expected
    if role == "anonymous":
        assert response["Location"].startswith(reverse("admin:login"))


@pytest.mark.parametrize(
    ("role", "expected"),
    [("admin", 302), ("staff", 302), ("curator", 403), ("outsider", 403), ("anonymous", 302)],
)
def test_only_staff_and_admins_can_start_a_job(
    role_clients: dict[str, Client], role: str, expected: int
) -> None:
    response = role_clients[role].post(
        reverse("embeddings:job_start"), {"kind": "movie", "model_key": LOCAL_MODEL}
    )

    assert response.status_code == expected
    assert EmbeddingJob.objects.count() == (1 if expected == 302 and role != "anonymous" else 0)


@pytest.mark.parametrize("name", ["job_cancel", "job_resume", "job_retry_failed"])
def test_job_actions_refuse_curators_and_answer_get_with_405(
    role_clients: dict[str, Client], name: str
) -> None:
    job = a_job(Status.INTERRUPTED)
    url = reverse(f"embeddings:{name}", args=[job.pk])

    assert role_clients["curator"].post(url).status_code == 403
    assert role_clients["outsider"].post(url).status_code == 403
    assert role_clients["staff"].get(url).status_code == 405
    job.refresh_from_db()
    assert job.status == Status.INTERRUPTED


def test_a_post_without_the_csrf_token_is_refused(staff_user: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_user)

    response = client.post(reverse("embeddings:job_start"), {"kind": "movie"})

    assert response.status_code == 403
    assert not EmbeddingJob.objects.exists()


def test_the_page_shows_each_job_with_its_bar_counts_rate_and_cost(curator_client: Client) -> None:
    a_job(items_per_second=12.5, eta_seconds=125, cost_usd="0.0123", tokens_used=4100)

    page = curator_client.get(reverse("embeddings:jobs")).content.decode()

    assert "50 done / 30 skipped / 0 failed of 200" in page
    # The bar shows the work: 50 of the 170 items that needed embedding.
    assert "29 %" in page
    assert 'style="width: 29.4%"' in page
    assert "12.5/s" in page
    assert "2 min 05 s" in page
    assert "$0.0123" in page
    assert 'hx-trigger="every 1s"' in page
    # Curators look; they do not get the buttons.
    assert "Start job" not in page and "Cancel</button>" not in page


def test_a_running_row_keeps_polling_and_a_finished_row_stops(staff_client: Client) -> None:
    running = a_job()
    finished = a_job(Status.COMPLETED, kind="series", done=170, finished_at=timezone.now())

    running_row = staff_client.get(reverse("embeddings:job_row", args=[running.pk]), **HTMX)
    finished_row = staff_client.get(reverse("embeddings:job_row", args=[finished.pk]), **HTMX)

    assert running_row.content.decode().lstrip().startswith(f'<tr id="job-{running.pk}"')
    assert "<html" not in running_row.content.decode()
    assert 'hx-trigger="every 1s"' in running_row.content.decode()
    assert "hx-trigger" not in finished_row.content.decode()
    assert "100 %" in finished_row.content.decode()


def test_a_row_url_without_htmx_goes_back_to_the_page(staff_client: Client) -> None:
    job = a_job()

    response = staff_client.get(reverse("embeddings:job_row", args=[job.pk]))

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('embeddings:jobs')}#job-{job.pk}"


def test_a_row_whose_worker_died_shows_interrupted_with_a_resume_button(
    staff_client: Client,
) -> None:
    job = a_job(worker=False)  # its process died: no session holds its worker lock

    row = staff_client.get(reverse("embeddings:job_row", args=[job.pk]), **HTMX).content.decode()

    assert "Interrupted" in row
    assert "Resume</button>" in row
    assert "hx-trigger" not in row


def test_starting_from_the_page_queues_the_job_and_a_double_click_starts_one_not_two(
    staff_client: Client,
) -> None:
    form = {
        "kind": "movie",
        "model_key": LOCAL_MODEL,
        "mode": "all",
        "batch_size": "16",
        "spending_cap_usd": "",
    }

    first = staff_client.post(reverse("embeddings:job_start"), form, follow=True)
    second = staff_client.post(reverse("embeddings:job_start"), form, follow=True)

    job = EmbeddingJob.objects.get()
    assert (job.kind, job.mode, job.batch_size, job.status) == ("movie", "all", 16, Status.QUEUED)
    assert job.created_by is not None and job.created_by.username == "sam"
    assert OrmQ.objects.count() == 1
    assert f"Started job #{job.pk}" in first.content.decode()
    assert "A movies job for local:all-MiniLM-L6-v2 is already running" in second.content.decode()


def test_a_malformed_start_form_says_what_is_wrong(staff_client: Client) -> None:
    response = staff_client.post(
        reverse("embeddings:job_start"), {"kind": "movie", "spending_cap_usd": "ten"}, follow=True
    )

    assert "The spending cap must be an amount in dollars" in response.content.decode()
    assert not EmbeddingJob.objects.exists()


def test_cancel_over_htmx_returns_the_row_in_its_new_state(staff_client: Client) -> None:
    job = a_job()

    row = staff_client.post(
        reverse("embeddings:job_cancel", args=[job.pk]), **HTMX
    ).content.decode()

    job.refresh_from_db()
    assert job.status == Status.CANCELLING
    assert "Cancelling" in row and f'id="job-{job.pk}"' in row


def test_a_refused_action_explains_itself_in_the_row_and_on_the_page(staff_client: Client) -> None:
    job = a_job(Status.COMPLETED, finished_at=timezone.now())

    row = staff_client.post(
        reverse("embeddings:job_cancel", args=[job.pk]), **HTMX
    ).content.decode()
    page = staff_client.post(
        reverse("embeddings:job_resume", args=[job.pk]), follow=True
    ).content.decode()

    assert "is completed; there is nothing to cancel" in row
    assert "is completed; only stopped jobs resume" in page


def test_retry_failed_forgets_the_failures_and_queues_the_job_again(staff_client: Client) -> None:
    item = make_item(title="Broken")
    job = a_job(Status.COMPLETED, failed=1, finished_at=timezone.now())
    JobFailure.objects.create(job=job, item=item, reason="the provider refused this text")

    page = staff_client.get(reverse("embeddings:jobs")).content.decode()
    response = staff_client.post(reverse("embeddings:job_retry_failed", args=[job.pk]))

    assert "the provider refused this text" in page and "Retry failed</button>" in page
    assert response.status_code == 302
    job.refresh_from_db()
    assert (job.status, job.failed) == (Status.QUEUED, 0)
    assert not JobFailure.objects.exists()
    assert OrmQ.objects.count() == 1


def test_sync_content_now_starts_stale_jobs_for_movies_and_series_and_shows_them(
    staff_client: Client,
) -> None:
    response = staff_client.post(reverse("embeddings:sync_content"), follow=True)

    started = EmbeddingJob.objects.all()
    assert sorted(started.values_list("kind", "mode")) == [("movie", "stale"), ("series", "stale")]
    assert response.redirect_chain[-1][0] == reverse("embeddings:jobs")
    assert "Content sync started" in response.content.decode()
    # A second click keeps the jobs already running.
    staff_client.post(reverse("embeddings:sync_content"))
    assert EmbeddingJob.objects.count() == 2


def test_sync_content_is_post_only_and_for_staff(role_clients: dict[str, Client]) -> None:
    url = reverse("embeddings:sync_content")

    assert role_clients["staff"].get(url).status_code == 405
    assert role_clients["curator"].post(url).status_code == 403
    assert role_clients["anonymous"].post(url).status_code == 302
    assert not EmbeddingJob.objects.exists()


def test_the_content_sync_schedule_function_starts_the_same_jobs() -> None:
    started = schedules.start_content_sync()

    assert {job.kind for job in started} == {"movie", "series"}
    assert {job.status for job in started} == {Status.QUEUED}


def test_a_running_row_says_how_many_workers_share_the_job(staff_client: Client) -> None:
    shared = a_job()
    alone = a_job(kind="series")
    second = LiveWorkers()  # another worker process, on the first job only
    try:
        second.hold(shared.pk)

        rows = [
            staff_client.get(reverse("embeddings:job_row", args=[job.pk]), **HTMX).content.decode()
            for job in (shared, alone)
        ]
    finally:
        second.stop()

    assert '<span class="job-workers">2 workers</span>' in rows[0]
    assert '<span class="job-workers">1 worker</span>' in rows[1]
    finished = a_job(Status.COMPLETED, done=170, finished_at=timezone.now())
    page = staff_client.get(reverse("embeddings:job_row", args=[finished.pk]), **HTMX)
    assert "job-workers" not in page.content.decode()


def test_a_queued_job_says_it_waits_for_a_worker_and_claims_no_counts(
    curator_client: Client,
) -> None:
    a_job(Status.QUEUED, total=0, done=0, skipped=0, started_at=None, heartbeat_at=None)

    page = curator_client.get(reverse("embeddings:jobs")).content.decode()

    assert "Queued — waiting for a worker" in page
    assert "of 0" not in page and "0 %" not in page


def test_a_job_whose_first_batch_is_not_stored_says_its_model_loads(
    curator_client: Client,
) -> None:
    a_job(total=11027, done=0, skipped=10806, batch_ends=[], batch_items=[])

    page = curator_client.get(reverse("embeddings:jobs")).content.decode()

    assert "Loading the model…" in page
    assert "98 %" not in page and "0 done" not in page


def test_a_running_job_with_one_batch_stored_is_still_measuring_its_eta(
    curator_client: Client,
) -> None:
    a_job(batch_ends=[1.0], batch_items=[64], done=64)

    row = curator_client.get(reverse("embeddings:jobs")).content.decode()

    assert "measuring…" in row and "38 %" in row  # 64 of the 170 to embed
