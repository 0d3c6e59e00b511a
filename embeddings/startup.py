"""What `make run` prepares on the embeddings side before the worker starts."""

from __future__ import annotations

from collections.abc import Iterator

from embeddings.jobs import mark_interrupted
from embeddings.models import EmbeddingSettings
from embeddings.tasks import ensure_schedules, first_run_jobs


def prepare() -> Iterator[str]:
    config = EmbeddingSettings.load()
    if not config.active_model_key:
        config.active_model_key = config.active_key
        config.save(update_fields=["active_model_key", "updated_at"])
    yield f"Active embedding model: {config.active_model_key}"
    yield from _prepare_jobs()


def _prepare_jobs() -> Iterator[str]:
    """Orphaned jobs, the schedules, and on the very first run the jobs that fill the active set."""
    if stopped := mark_interrupted():
        yield f"{stopped} job(s) lost their worker; resume them on the jobs page"
    ensure_schedules()
    yield "Schedules: content sync daily at 03:00, provider health check hourly"
    if started := first_run_jobs():
        kinds = " and ".join(job.get_kind_display().lower() for job in started)
        yield (
            f"No embeddings yet for {started[0].model_key}: queued the {kinds} jobs; "
            "watch them on /admin/jobs/"
        )
