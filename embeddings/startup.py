"""What `make run` prepares on the embeddings side before the worker starts."""

from __future__ import annotations

from collections.abc import Iterator

from embeddings.jobs import Recovery, recover
from embeddings.models import EmbeddingJob, EmbeddingSettings
from embeddings.tasks import ensure_schedules, first_run_jobs


def prepare() -> Iterator[str]:
    config = EmbeddingSettings.load()
    if not config.active_model_key:
        config.active_model_key = config.active_key
        config.save(update_fields=["active_model_key", "updated_at"])
    yield f"Active embedding model: {config.active_model_key}"
    yield from _prepare_jobs()


def _prepare_jobs() -> Iterator[str]:
    """Jobs the last stop interrupted, queued again (and tables it left without their HNSW
    index, indexed), the schedules, and on the very first run the jobs that fill the active set."""
    yield from _recovered(recover())
    ensure_schedules()
    yield "Schedules: content sync daily at 03:00, provider health check hourly"
    if started := first_run_jobs():
        kinds = " and ".join(job.get_kind_display().lower() for job in started)
        yield (
            f"No embeddings yet for {started[0].model_key}: queued the {kinds} jobs; "
            "watch them on /admin/jobs/"
        )


def _recovered(recovery: Recovery) -> Iterator[str]:
    if resumed := recovery.resumed:
        jobs = "job" if len(resumed) == 1 else "jobs"
        yield (
            f"Resumed {len(resumed)} {jobs} interrupted by the last stop: "
            + ", ".join(map(_named, resumed))
        )
    for job in recovery.held:
        yield (
            f"Not resumed: {_named(job)} stopped its worker twice at the same point; "
            "see its error on the jobs page, then resume it there"
        )


def _named(job: EmbeddingJob) -> str:
    return f"#{job.pk} {job.model_key} {job.kind}"
