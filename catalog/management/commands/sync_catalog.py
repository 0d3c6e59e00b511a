"""`python manage.py sync_catalog --source tmdb`: bring TMDb's changes into the catalog, in the
foreground, with a progress bar; run again after it was killed, it resumes its sync."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.core.validators import URLValidator
from tqdm import tqdm

from catalog.models import SyncEntry, SyncJob
from catalog.tmdb import control
from catalog.tmdb.sync import run_sync
from embeddings.providers.sources import TMDbSource
from reclio_admin.commands import DatabaseCommand

REPORTED = 20  # titles listed by name at the end; the rest are counted


class Command(DatabaseCommand):
    help = (
        "Update the catalog's titles that TMDb changed since the last completed sync (or "
        "--since), and add new titles from TMDb charts. Run again after it was stopped, it "
        "resumes where it was."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--source", choices=["tmdb"], required=True)
        parser.add_argument(
            "--since",
            type=_day,
            metavar="YYYY-MM-DD",
            help="First day of changes to read (default: the end of the last completed sync, "
            "else yesterday).",
        )
        parser.add_argument(
            "--chart",
            action="append",
            default=[],
            choices=[value for value, _ in control.chart_choices()],
            help="Also add the titles of this chart that the catalog lacks (repeatable).",
        )
        parser.add_argument(
            "--pages", type=int, default=1, help="Pages of each chart to read (20 titles each)."
        )
        parser.add_argument(
            "--base-url", type=_url, help="TMDb's address (default: TMDB_BASE_URL)."
        )
        parser.add_argument(
            "--requests-per-second",
            type=float,
            help="Pace requests at this rate (default: TMDB_REQUESTS_PER_SECOND).",
        )
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    def handle(self, *args: Any, **options: Any) -> None:
        rate = options["requests_per_second"]
        if rate is not None and not 0 < rate <= 1000:
            raise CommandError("--requests-per-second must be more than 0 and at most 1000")
        client = TMDbSource.client(options["base_url"] or "", rate)
        job = self._job(options)
        bar = tqdm(unit="title", disable=options["no_progress"], file=self.stderr._out)

        def show(current: SyncJob) -> None:
            bar.total = current.total if current.listed else None
            bar.n = current.processed
            bar.set_postfix(
                updated=current.updated, added=current.added, missing=current.missing,
                skipped=current.skipped, refresh=False,
            )  # fmt: skip
            bar.refresh()

        try:
            status = run_sync(job.pk, client, on_progress=show)
        finally:
            bar.close()
        self._report(SyncJob.objects.get(pk=job.pk), status)

    def _job(self, options: dict[str, Any]) -> SyncJob:
        # A sync whose worker was killed is resumed here rather than started afresh.
        if (stopped := control.take_over()) is not None:
            self.stdout.write(f"Sync #{stopped.pk}'s worker had stopped: resuming it here.")
            return stopped
        try:
            return control.create_sync(
                since=options["since"],
                charts=options["chart"],
                chart_pages=options["pages"] if options["chart"] else 0,
            )
        except control.SyncRefused as exc:
            raise CommandError(str(exc)) from None

    def _report(self, job: SyncJob, status: str) -> None:
        summary = (
            f"Sync #{job.pk} {status} ({job.since} to {job.until}): {job.updated:,} updated, "
            f"{job.unchanged:,} unchanged, {job.added:,} added, {job.missing:,} not on TMDb "
            f"(kept), {job.skipped:,} skipped of {job.total:,}; {job.requests:,} requests to TMDb."
        )
        reported = SyncEntry.objects.filter(
            job=job, outcome__in=[SyncEntry.Outcome.MISSING, SyncEntry.Outcome.SKIPPED]
        ).order_by("id")
        for entry in reported[:REPORTED]:
            summary += f"\n  {entry.report_line}"
        if (more := job.missing + job.skipped - REPORTED) > 0:
            summary += f"\n  … and {more:,} more."
        if status == SyncJob.Status.FAILED:
            raise CommandError(f"{summary}\n{job.last_error}")
        if status == SyncJob.Status.CANCELLED and job.last_error:
            summary += f"\n{job.last_error}"
        self.stdout.write(summary)


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--since must be a day as YYYY-MM-DD, not {value!r}") from None


def _url(value: str) -> str:
    try:
        URLValidator(schemes=["http", "https"])(value)
    except ValidationError:
        raise CommandError(
            f"--base-url must be an http:// or https:// URL, not {value!r}"
        ) from None
    return value.rstrip("/")
