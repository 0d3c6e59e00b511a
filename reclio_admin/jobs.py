"""What every background job shares, an embedding job as much as a content sync: its statuses,
which of them a worker holds, how a page reads one whose worker died, and how a cancel moves it.

Each job keeps its own work fields, its own uniqueness rule and its own way of knowing a worker
is alive: `with_workers()` annotates `workers_alive`, which `state` reads. This sits below both
`catalog` and `embeddings` and imports neither."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Self, TypeVar

from django.conf import settings
from django.db import models
from django.utils import timezone

J = TypeVar("J", bound="BackgroundJob")


class JobQuerySet(models.QuerySet[J]):
    def active(self) -> Self:
        """Queued, running or cancelling: a worker has or will have it in hand."""
        return self.filter(status__in=BackgroundJob.ACTIVE_STATUSES)

    def move(self, to: str, *, from_: Iterable[str], **fields: Any) -> int:
        """Set status `to` on the rows still in one of `from_`, in one conditional UPDATE;
        returns how many moved (0 when another worker or a person moved them first)."""
        return self.filter(status__in=list(from_)).update(status=to, **fields)

    def cancel(self) -> int:
        """A queued or interrupted job stops at once; a running one is asked to, and stops after
        the work in flight. Returns how many moved (0: there was nothing to cancel)."""
        Status = BackgroundJob.Status
        return self.move(Status.CANCELLING, from_=[Status.RUNNING]) or self.move(
            Status.CANCELLED, from_=[Status.QUEUED, Status.INTERRUPTED], finished_at=timezone.now()
        )


class BackgroundJob(models.Model):
    """A long piece of work a worker runs, whose state lives in its row, so a reload, a killed
    worker or a second worker never loses it."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        CANCELLING = "cancelling", "Cancelling"
        CANCELLED = "cancelled", "Cancelled"
        INTERRUPTED = "interrupted", "Interrupted"
        FAILED = "failed", "Failed"
        COMPLETED = "completed", "Completed"

    ACTIVE_STATUSES = (Status.QUEUED, Status.RUNNING, Status.CANCELLING)
    BEATING_STATUSES = (Status.RUNNING, Status.CANCELLING)  # a worker heartbeats them
    STOPPED_STATUSES = (Status.INTERRUPTED, Status.FAILED, Status.CANCELLED)  # resumable

    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    total = models.PositiveIntegerField(default=0)
    items_per_second = models.FloatField(default=0)
    eta_seconds = models.FloatField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    task_id = models.CharField(max_length=64, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Items processed when the watchdog last queued the job again after its worker died; a
    # second death with no item processed since is a crash loop, left for a person to look at.
    recovered_at = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        abstract = True

    @property
    def state(self) -> str:
        """The status as a page shows it: a running (or cancelling) job whose workers are gone
        reads interrupted (or cancelled) before a worker, a job action or the schedule records
        it. Read through `with_workers()`, a killed worker shows at once."""
        # Known only when read through with_workers(); otherwise the recorded status stands.
        orphaned = self.status in self.BEATING_STATUSES and (
            getattr(self, "workers_alive", None) is False
        )
        if not orphaned:
            return self.status
        return (
            self.Status.INTERRUPTED if self.status == self.Status.RUNNING else self.Status.CANCELLED
        )

    def get_state_display(self) -> str:
        return str(self.Status(self.state).label)

    @property
    def is_active(self) -> bool:
        return self.state in self.ACTIVE_STATUSES

    @property
    def can_resume(self) -> bool:
        return self.state in self.STOPPED_STATUSES

    @property
    def processed(self) -> int:
        """The items done so far, whatever became of each."""
        raise NotImplementedError

    @property
    def total_known(self) -> bool:
        """Whether `total` is the whole of the work yet (a job that lists its work as it goes
        knows it only at the end of the listing)."""
        return True

    @property
    def percent(self) -> float:
        if not self.total_known or not self.total:
            return 100.0 if self.status == self.Status.COMPLETED else 0.0
        return min(100.0, 100.0 * self.processed / self.total)
