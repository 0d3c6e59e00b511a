"""The providers' health, one probe at a time."""

from __future__ import annotations

from django.db import models


class HealthCheck(models.Model):
    """One probe of a provider: did it embed, how fast, or the named error."""

    model_key = models.CharField(max_length=200)
    ok = models.BooleanField()
    latency_ms = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True)
    checked_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-checked_at"]
        get_latest_by = "checked_at"

    def __str__(self) -> str:
        outcome = (
            f"{self.latency_ms:.0f} ms" if self.ok and self.latency_ms is not None else self.error
        )
        return f"{self.model_key}: {'ok' if self.ok else 'failed'} ({outcome})"
