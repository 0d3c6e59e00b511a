"""What the product knows of its requests to outside services (embedding providers, TMDb): one
shared budget per service, and counts of what was sent. `reclio_admin.outbound.pacing` writes both with
single atomic statements, whichever worker on whichever machine sent the request."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models


class ServicePace(models.Model):
    """A service's budget of requests and tokens a minute, shared by every worker: no request
    starts before `free_at` (the database's clock), and each one taken moves it on by its share
    of the limits. The limits in force, what the service's own headers said, and the counts of
    this minute and the last are kept beside it for the jobs page."""

    name = models.CharField(max_length=50, primary_key=True)
    free_at = models.DateTimeField()
    last_start = models.DateTimeField()  # the start handed out last
    last_wait = models.FloatField(default=0.0)  # how long that one had to wait, in seconds
    held_until = models.DateTimeField(null=True)  # the start of the last request held back
    requests_per_minute = models.IntegerField(null=True)  # the limits in force, when known
    tokens_per_minute = models.BigIntegerField(null=True)
    learned_requests_per_minute = models.IntegerField(null=True)  # from the service's headers
    learned_tokens_per_minute = models.BigIntegerField(null=True)
    learned_at = models.DateTimeField(null=True)
    minute = models.DateTimeField()  # the minute the counts below belong to
    minute_requests = models.IntegerField(default=0)
    minute_tokens = models.BigIntegerField(default=0)
    last_minute_requests = models.IntegerField(default=0)
    last_minute_tokens = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}: next request from {self.free_at:%H:%M:%S.%f}"


class ServiceCallTally(models.Model):
    """Requests sent to a service, by the status they got ("200", "429", … or "no answer"):
    how many, their tokens, their seconds in all and a count per latency bucket
    (`reclio_admin.outbound.pacing.LATENCY_BUCKETS`, then +Inf)."""

    service = models.CharField(max_length=50)
    status = models.CharField(max_length=20)
    requests = models.BigIntegerField(default=0)
    tokens = models.BigIntegerField(default=0)
    seconds = models.FloatField(default=0.0)
    buckets = ArrayField(models.BigIntegerField())

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["service", "status"], name="service_call_tally_unique_service_status"
            )
        ]

    def __str__(self) -> str:
        return f"{self.service} {self.status}: {self.requests} requests"
