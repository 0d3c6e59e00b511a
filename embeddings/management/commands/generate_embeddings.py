"""`python manage.py generate_embeddings`: a regeneration job in the foreground, with a progress bar.

`--join JOB_ID` adds this process as one more worker to a job that is already running (on this
machine or another one pointed at the same database).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError
from tqdm import tqdm

from embeddings import jobs, tasks
from embeddings.models import EmbeddingJob, EmbeddingSettings
from reclio_admin.commands import DatabaseCommand


class Command(DatabaseCommand):
    help = "Generate embeddings for movies or series, in the foreground."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--kind", choices=["movie", "series"])
        parser.add_argument("--model", help="Model key (default: the active model).")
        parser.add_argument(
            "--mode", choices=EmbeddingJob.Mode.values, default=EmbeddingJob.Mode.STALE
        )
        parser.add_argument("--batch-size", type=int)
        parser.add_argument("--spending-cap", help="Stop when the job has cost this many dollars.")
        parser.add_argument("--join", type=int, metavar="JOB_ID", help="Work on an existing job.")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    def handle(self, *args: Any, **options: Any) -> None:
        job_id = options["join"] or self._create(options)
        bar = tqdm(unit="item", disable=options["no_progress"], file=self.stderr._out)

        def show(job: EmbeddingJob) -> None:
            bar.total = job.total
            bar.n = job.processed
            bar.set_postfix(done=job.done, skipped=job.skipped, failed=job.failed, refresh=False)
            bar.refresh()

        try:
            mine = tasks.work_on_job(job_id, on_progress=show)
        finally:
            bar.close()
        job = EmbeddingJob.objects.get(pk=job_id)
        status = mine.status
        summary = (
            f"Job #{job.pk} {status}: {job.done} done, {job.skipped} skipped, {job.failed} failed "
            f"of {job.total} (this worker: {mine.embedded} embedded, {mine.failed} failed)"
        )
        if status in (EmbeddingJob.Status.FAILED, EmbeddingJob.Status.CANCELLED) and job.last_error:
            summary += f". {job.last_error}"
        if status == EmbeddingJob.Status.FAILED:
            raise CommandError(summary)
        self.stdout.write(summary)

    def _create(self, options: dict[str, Any]) -> int:
        if not options["kind"]:
            raise CommandError("--kind movie|series is required (or --join JOB_ID)")
        model = options["model"] or EmbeddingSettings.load().active_key
        try:
            job = jobs.create_job(
                options["kind"],
                model,
                options["mode"],
                batch_size=options["batch_size"],
                spending_cap_usd=options["spending_cap"],
            )
        except jobs.JobRefused as exc:
            # "Already running" may be a job whose worker was killed: then this run resumes it.
            dead = jobs.take_over(options["kind"], model)
            if dead is None:
                raise CommandError(str(exc)) from None
            self.stdout.write(f"Job #{dead.pk}'s worker had stopped: resuming it here.")
            return dead.pk
        return job.pk
