"""Regeneration jobs, with the state a page, a worker and the watchdog share, and the items a job
could not embed."""

from __future__ import annotations

from datetime import UTC, datetime

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone

from catalog.models import CatalogItem
from embeddings.worker_locks import no_worker, worker_alive, worker_count
from reclio_admin.jobs import BackgroundJob, JobQuerySet


class EmbeddingJobQuerySet(JobQuerySet["EmbeddingJob"]):
    def with_workers(self) -> EmbeddingJobQuerySet:
        """Each job annotated with `workers_alive`, whether any live database session works on
        it (embeddings.worker_locks), and `worker_count`, how many, read in the same query."""
        return self.annotate(workers_alive=worker_alive(), worker_count=worker_count())

    def orphaned(self) -> EmbeddingJobQuerySet:
        """Running or cancelling, but no worker holds them any more: their process died, and its
        database session and lock went with it. (A slow provider call is no sign of death: the
        worker's session holds the lock all along.)"""
        return self.filter(no_worker(), status__in=EmbeddingJob.BEATING_STATUSES)


# How the message of a job stopped by its spending cap begins (`embeddings.jobs.metering`).
CAP_REACHED = "Stopped at the spending cap"


class EmbeddingJob(BackgroundJob):
    """A regeneration run for one kind of item into one model's set. Its state lives here, so a
    reload, a crashed worker or a second worker never loses it."""

    class Kind(models.TextChoices):
        MOVIES = "movie", "Movies"
        SERIES = "series", "Series"

    class Mode(models.TextChoices):
        # The default first: an item whose text changed needs its vector made again.
        STALE = "stale", "Missing or changed"
        MISSING = "missing", "Missing only (changed items keep their old vectors)"
        ALL = "all", "All items"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    model_key = models.CharField(max_length=200)
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.STALE)
    batch_size = models.PositiveIntegerField(default=64)
    done = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    tokens_used = models.BigIntegerField(default=0)
    cost_usd = models.DecimalField(max_digits=12, decimal_places=6, default=0)
    spending_cap_usd = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    failed_batches_in_row = models.PositiveIntegerField(default=0)
    # The meter (embeddings.jobs.metering). This run's latest batches (a run lasts from a start
    # or a resume to a stop): when each was stored, in seconds since the epoch by the database's
    # clock, and how many items each processed; the recent rate is read over a window of them.
    batch_ends = ArrayField(models.FloatField(), default=list, blank=True)
    batch_items = ArrayField(models.PositiveIntegerField(), default=list, blank=True)
    # Over every run, the time from each run's first stored batch to its last and the items of
    # those batches after the first: elapsed time and the average rate leave out time queued,
    # stopped, or loading a model before a run's first batch.
    metered_seconds = models.FloatField(default=0)
    metered_items = models.PositiveIntegerField(default=0)

    objects = EmbeddingJobQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # A double click, or two admins at once, start one job per kind and model, not two.
            models.UniqueConstraint(
                fields=["kind", "model_key"],
                condition=models.Q(status__in=["queued", "running", "cancelling"]),
                name="one_active_job_per_kind_and_model",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} → {self.model_key} ({self.status})"

    @property
    def stopped_at_cap(self) -> bool:
        """Its last batch would have passed its spending cap: it resumes only with a higher one."""
        return self.state == self.Status.CANCELLED and self.last_error.startswith(CAP_REACHED)

    def get_state_display(self) -> str:
        """A job the cap stopped is recorded cancelled, but nobody cancelled it: say why."""
        return "Stopped at the cap" if self.stopped_at_cap else super().get_state_display()

    @property
    def processed(self) -> int:
        return self.done + self.skipped + self.failed

    @property
    def percent(self) -> float:
        """The share of the job's work done: items it embedded or gave up on, of those it had to
        embed (what was up to date or had no text is no work, and moves no bar)."""
        work = self.total - self.skipped
        if work <= 0:
            return 100.0 if self.status == self.Status.COMPLETED else 0.0
        return min(100.0, 100.0 * (self.done + self.failed) / work)

    @property
    def starting(self) -> bool:
        """A worker has it and no batch of this run is stored yet: a local model loads, or the
        first batch is on its way."""
        return self.state in self.BEATING_STATUSES and not self.batch_ends

    @property
    def elapsed_seconds(self) -> float | None:
        """Time worked: each run from its first stored batch to its last, and the current one on
        to now (or to its stop), so time queued, stopped or spent loading a model never counts."""
        if not self.batch_ends:
            return self.metered_seconds or None
        end = self.finished_at or (timezone.now() if self.is_active else None)
        last = datetime.fromtimestamp(self.batch_ends[-1], UTC)
        tail = (end - last).total_seconds() if end else 0.0
        return self.metered_seconds + max(0.0, tail)

    @property
    def rate(self) -> float | None:
        """Items a second: the recent rate while the job runs (its workers keep
        `items_per_second`), its average over the time worked once it stops."""
        if self.is_active:
            return self.items_per_second or None
        return self.metered_items / self.metered_seconds if self.metered_seconds else None


class JobFailure(models.Model):
    """An item a job could not embed, and why; retryable from the jobs page."""

    job = models.ForeignKey(EmbeddingJob, on_delete=models.CASCADE, related_name="failures")
    item = models.ForeignKey(CatalogItem, on_delete=models.CASCADE, related_name="+")
    reason = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job", "item"], name="job_failure_unique_item")
        ]

    def __str__(self) -> str:
        return f"item {self.item_id} in job {self.job_id}: {self.reason[:80]}"
