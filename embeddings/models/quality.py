"""Measurements of a model's neighbours: franchise and judged recall per blend, and where two
models disagree."""

from __future__ import annotations

from django.db import models

from catalog.models import CatalogItem


class RunStatus(models.TextChoices):
    """Where a background measurement is: queued, under way, done, or failed with its error."""

    QUEUED = "queued", "Queued"
    RUNNING = "running", "Under way"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class QualityRun(models.Model):
    """One measurement of a model's neighbours on this catalog, kept with its date: franchise
    recall per blend (its `scores`) and how much the HNSW walk loses against an exact scan."""

    Status = RunStatus

    model_key = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    # The model's rows when measured: a set that has grown since needs measuring again.
    vectors = models.PositiveIntegerField(default=0)
    # The catalog's items when measured: what changed since is weighed against it (0 for a
    # measurement made before the size was kept).
    catalog_items = models.PositiveIntegerField(default=0)
    index_queries = models.PositiveIntegerField(default=0)
    index_recall_at_10 = models.FloatField(null=True, blank=True)
    seconds = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True)
    requested_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        indexes = [models.Index(fields=["model_key", "status"], name="quality_run_model_status")]
        constraints = [
            # Two jobs completing at once queue one measurement, not two.
            models.UniqueConstraint(
                fields=["model_key"],
                condition=models.Q(status="queued"),
                name="one_queued_quality_run_per_model",
            ),
        ]

    def __str__(self) -> str:
        return f"quality of {self.model_key} ({self.status})"

    def score(self, blend: str) -> QualityScore | None:
        return next((s for s in self.scores.all() if s.blend == blend), None)

    @property
    def vector_score(self) -> QualityScore | None:
        """Vectors alone: shown beside every blend's, so shared words never hide broken vectors."""
        return self.score("vector")


class QualityScore(models.Model):
    """Franchise siblings among the top 10 of one blend (recall@10 and hit@10) and, when films
    are judged, the judged-relevant films among them (recall@10 and nDCG@10)."""

    run = models.ForeignKey(QualityRun, on_delete=models.CASCADE, related_name="scores")
    blend = models.CharField(max_length=20)
    queries = models.PositiveIntegerField()
    recall_at_10 = models.FloatField()
    hit_at_10 = models.FloatField()
    # 0 queries (and no scores) when no film the model has embedded was judged.
    judged_queries = models.PositiveIntegerField(default=0)
    judged_recall_at_10 = models.FloatField(null=True, blank=True)
    judged_ndcg_at_10 = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["run", "blend"]
        constraints = [
            models.UniqueConstraint(fields=["run", "blend"], name="quality_score_unique_blend")
        ]

    def __str__(self) -> str:
        return f"{self.run.model_key} {self.blend}: recall@10 {self.recall_at_10:.3f}"


class DisagreementRun(models.Model):
    """Where two models' neighbours differ, over the whole catalog; its rows are the items."""

    Status = RunStatus

    left_key = models.CharField(max_length=200)
    right_key = models.CharField(max_length=200)
    blend = models.CharField(max_length=20, default="vector")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    items = models.PositiveIntegerField(default=0)
    seconds = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True)
    requested_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["left_key", "right_key", "blend"],
                condition=models.Q(status="queued"),
                name="one_queued_disagreement_run_per_pair",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.left_key} vs {self.right_key} ({self.status})"


class Disagreement(models.Model):
    """One item's two top-10 lists compared: the share they have in common and their
    rank-biased overlap (agreement at the top counts most)."""

    run = models.ForeignKey(DisagreementRun, on_delete=models.CASCADE, related_name="rows")
    item = models.ForeignKey(CatalogItem, on_delete=models.CASCADE, related_name="+")
    overlap = models.FloatField()
    rbo = models.FloatField()

    class Meta:
        indexes = [models.Index(fields=["run", "overlap", "rbo"], name="disagreement_lowest")]

    def __str__(self) -> str:
        return f"item {self.item_id}: overlap {self.overlap:.2f}, RBO {self.rbo:.2f}"
