"""The runner says whether its worker completed a job and does nothing more; the worker's task
(`embeddings.tasks.run_job`) then brings the lexical rows up to date, queues a measurement of the
model and tries the cut-over."""

from __future__ import annotations

import pytest

from embeddings import jobs, tasks
from embeddings.models import EmbeddingJob, EmbeddingSettings, LexicalVector, QualityRun
from tests.conftest import make_item
from tests.jobs.conftest import LOCAL_MODEL

pytestmark = pytest.mark.django_db
Status = EmbeddingJob.Status


def test_the_runner_reports_the_completion_and_leaves_what_follows_to_the_task() -> None:
    for i in range(3):
        make_item(title=f"Film {i}", overview=f"Story number {i} about a lighthouse keeper.")
    LexicalVector.objects.all().delete()  # as after a bulk import, which sends no signals
    EmbeddingSettings.objects.update_or_create(
        pk=1, defaults={"active_model_key": "none:disabled", "building_model_key": LOCAL_MODEL}
    )
    job = jobs.create_job("movie", LOCAL_MODEL)

    report = jobs.work_on_job(job.pk)

    assert (report.status, report.completed, report.embedded) == (Status.COMPLETED, True, 3)
    assert not LexicalVector.objects.exists()
    assert not QualityRun.objects.exists()
    assert EmbeddingSettings.load().active_model_key == "none:disabled"

    late = jobs.work_on_job(job.pk)  # a worker that joins once the job is over
    assert (late.status, late.completed, late.embedded) == (Status.COMPLETED, False, 0)

    tasks.after_job_completed(job.pk)

    assert LexicalVector.objects.count() == 3
    assert QualityRun.objects.filter(model_key=LOCAL_MODEL, status="queued").exists()
    config = EmbeddingSettings.load()
    assert (config.active_model_key, config.building_model_key) == (LOCAL_MODEL, "")
