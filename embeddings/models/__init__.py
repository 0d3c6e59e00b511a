from __future__ import annotations

import weakref
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import psycopg
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, models
from django.utils import timezone
from pgvector.django import (
    CosineDistance,
    HalfVectorField,
    HnswIndex,
    L2Distance,
    MaxInnerProduct,
    SparseVectorField,
    VectorField,
)
from pgvector.psycopg import register_vector

from catalog.models import CatalogItem
from embeddings.registry import DIMENSIONS, default_model_key, storage_type
from embeddings.worker_locks import no_worker, worker_alive, worker_count
from reclio_admin.encryption import EncryptedField

# Distance operators by metric. Only cosine has an HNSW index; L2 and inner product scan exactly.
METRICS: dict[str, type[CosineDistance | L2Distance | MaxInnerProduct]] = {
    "cosine": CosineDistance,
    "l2": L2Distance,
    "ip": MaxInnerProduct,
}


class EmbeddingQuerySet(models.QuerySet[Any]):
    def for_model(self, model_key: str) -> EmbeddingQuerySet:
        return self.filter(model_key=model_key)

    def nearest(self, vector: Any, *, k: int = 10, metric: str = "cosine") -> EmbeddingQuerySet:
        """The k rows closest to `vector`, closest first, annotated with `distance` (the operator's
        value: cosine distance, L2 distance, or the negated inner product)."""
        distance = METRICS[metric]("embedding", vector)
        nearest: EmbeddingQuerySet = self.annotate(distance=distance).order_by("distance")[:k]
        return nearest

    def of_items(
        self,
        *,
        kind: str = "",
        year_min: int | None = None,
        year_max: int | None = None,
        genre: str = "",
        exclude_item_id: int | None = None,
    ) -> EmbeddingQuerySet:
        """Rows whose catalog item passes a curator's filters (empty ones filter nothing)."""
        rows: EmbeddingQuerySet = passing_filters(
            self, kind, year_min, year_max, genre, exclude_item_id
        )
        return rows

    def upsert(
        self,
        model_key: str,
        rows: Sequence[tuple[int, str]],
        vectors: Sequence[Sequence[float]] | np.ndarray,
    ) -> None:
        """Store one vector per (item id, source hash) row for this model; running it twice
        leaves the same rows (an item given twice keeps its last vector).

        Vectors travel in pgvector's binary format (a float32 array each): formatting 384 or
        3,072 numbers as text per row cost more than the upsert. The rows go in multi-row
        INSERTs of up to UPSERT_ROWS each: a statement per row cost PostgreSQL three times the
        CPU of the rows themselves."""
        if not rows:
            return
        table: type[EmbeddingBase] = self.model
        matrix = np.asarray(vectors, dtype=np.float32)
        if matrix.shape != (len(rows), table.dimensions):
            raise ValueError(
                f"vectors of shape {matrix.shape} cannot go in the {table.dimensions} table"
            )
        # One statement may not touch a row twice (ON CONFLICT would refuse it): the last wins.
        last = {item_id: index for index, (item_id, _) in enumerate(rows)}
        kept = sorted(last.values())
        vector = f"CAST(%b AS {storage_type(table.dimensions)}({table.dimensions}))"
        now = timezone.now()
        # Django's cursors bind parameters on the client, as text; this one, on the same connection
        # and in the same transaction, sends the vectors as binary.
        with psycopg.Cursor(_vector_connection()) as cursor:
            for start in range(0, len(kept), UPSERT_ROWS):
                part = kept[start : start + UPSERT_ROWS]
                values = ", ".join([f"(%s, %s, %s, %s, {vector})"] * len(part))
                params: list[Any] = []
                for index in part:
                    item_id, digest = rows[index]
                    params += [item_id, model_key, digest, now, matrix[index]]
                cursor.execute(
                    f"INSERT INTO {table._meta.db_table} "
                    "(item_id, model_key, source_hash, created_at, embedding) "
                    f"VALUES {values} ON CONFLICT (item_id, model_key) DO UPDATE SET "
                    "embedding = EXCLUDED.embedding, source_hash = EXCLUDED.source_hash, "
                    "created_at = EXCLUDED.created_at",
                    params,
                )


# Rows per INSERT of `upsert`: five parameters each, far below PostgreSQL's 65,535.
UPSERT_ROWS = 1000


_registered: weakref.WeakSet[Any] = weakref.WeakSet()


def _vector_connection() -> Any:
    """The raw connection under Django's, taught pgvector's binary formats (once each)."""
    connection.ensure_connection()
    raw = connection.connection
    if raw not in _registered:
        register_vector(raw)
        _registered.add(raw)
    return raw


def passing_filters(
    rows: Any,
    kind: str = "",
    year_min: int | None = None,
    year_max: int | None = None,
    genre: str = "",
    exclude_item_id: int | None = None,
) -> Any:
    """Rows of any table keyed by `item` (vectors, lexical rows) whose catalog item passes a
    curator's filters."""
    if exclude_item_id is not None:
        rows = rows.exclude(item_id=exclude_item_id)
    if kind:
        rows = rows.filter(item__kind=kind)
    if year_min is not None:
        rows = rows.filter(item__year__gte=year_min)
    if year_max is not None:
        rows = rows.filter(item__year__lte=year_max)
    if genre:
        rows = rows.filter(item__genres__contains=[genre])
    return rows


class EmbeddingBase(models.Model):
    """One vector per (catalog item, model). Subclasses fix the dimension and the table."""

    dimensions: int = 0
    embedding: Any  # a VectorField or HalfVectorField of the subclass's dimension

    item = models.ForeignKey(CatalogItem, on_delete=models.CASCADE, related_name="+")
    model_key = models.CharField(max_length=200)
    source_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now=True)

    objects = EmbeddingQuerySet.as_manager()

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.model_key} · item {self.item_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        check_dimensions(self.embedding, self.dimensions)
        super().save(*args, **kwargs)

    def clean_fields(self, exclude: Any = None) -> None:
        super().clean_fields(exclude)
        check_dimensions(self.embedding, self.dimensions)


def check_dimensions(vector: Any, dimensions: int) -> None:
    """Refuse a vector of the wrong size before it reaches the database."""
    size = len(vector) if vector is not None else 0
    if size != dimensions:
        raise ValidationError(f"expected a vector of {dimensions} dimensions, got {size}")


def _vector_field(dimensions: int) -> VectorField | HalfVectorField:
    field = HalfVectorField if storage_type(dimensions) == "halfvec" else VectorField
    return field(dimensions=dimensions)


def _meta(dimensions: int) -> Any:
    table = f"embeddings_{dimensions}"
    return type(
        "Meta",
        (),
        {
            "db_table": table,
            "verbose_name": f"embedding ({dimensions} d)",
            "constraints": [
                models.UniqueConstraint(
                    fields=["item", "model_key"], name=f"{table}_unique_item_model"
                ),
            ],
            "indexes": [
                # Covers the stale check (`embeddings.jobs.stale`): an index-only anti-join.
                models.Index(
                    fields=["model_key", "item"],
                    include=["source_hash", "created_at"],
                    name=f"{table}_model_item",
                ),
                HnswIndex(
                    name=f"{table}_hnsw_cosine",
                    fields=["embedding"],
                    m=16,
                    ef_construction=64,
                    opclasses=[f"{storage_type(dimensions)}_cosine_ops"],
                ),
            ],
        },
    )


class Embedding384(EmbeddingBase):
    dimensions = 384
    embedding = _vector_field(384)
    Meta = _meta(384)


class Embedding768(EmbeddingBase):
    dimensions = 768
    embedding = _vector_field(768)
    Meta = _meta(768)


class Embedding1024(EmbeddingBase):
    dimensions = 1024
    embedding = _vector_field(1024)
    Meta = _meta(1024)


class Embedding1536(EmbeddingBase):
    dimensions = 1536
    embedding = _vector_field(1536)
    Meta = _meta(1536)


class Embedding3072(EmbeddingBase):
    dimensions = 3072
    embedding = _vector_field(3072)
    Meta = _meta(3072)


EMBEDDING_TABLES: dict[int, type[EmbeddingBase]] = {
    384: Embedding384,
    768: Embedding768,
    1024: Embedding1024,
    1536: Embedding1536,
    3072: Embedding3072,
}


def _hnsw_index(table: type[models.Model]) -> HnswIndex:
    return next(index for index in table._meta.indexes if isinstance(index, HnswIndex))


def drop_hnsw_index(table: type[models.Model]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f'DROP INDEX IF EXISTS "{_hnsw_index(table).name}"')


def has_hnsw_index(table: type[models.Model]) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_indexes WHERE indexname = %s", [_hnsw_index(table).name])
        return cursor.fetchone() is not None


def ensure_hnsw_index(table: type[models.Model]) -> bool:
    """Build the table's HNSW index if it is missing (after a bulk load); True when built."""
    if has_hnsw_index(table):
        return False
    index = _hnsw_index(table)
    with connection.schema_editor(atomic=True) as editor:
        # Workers that finish one job together would each build the same index at once, a core
        # each, and all but one throw theirs away: the first builds, the others wait and find it.
        editor.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
            [f"hnsw-build:{table._meta.db_table}"],
        )
        if has_hnsw_index(table):
            return False
        sql = str(index.create_sql(table, editor)).replace(
            "CREATE INDEX", "CREATE INDEX IF NOT EXISTS", 1
        )
        # The build is one pass over the table; memory keeps the graph out of temporary files.
        editor.execute(f"SET LOCAL maintenance_work_mem = '{settings.HNSW_BUILD_MEMORY}'")
        # Inside a caller's transaction, deferred foreign-key checks must run before the build.
        editor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        editor.execute(sql)
        editor.execute("SET CONSTRAINTS ALL DEFERRED")
    return True


def table_for(dimensions: int) -> type[EmbeddingBase]:
    """The model class whose table stores vectors of this dimension."""
    try:
        return EMBEDDING_TABLES[dimensions]
    except KeyError:
        raise ValueError(
            f"no embedding table for {dimensions} dimensions (tables: {', '.join(map(str, DIMENSIONS))})"
        ) from None


class EmbeddingSettings(models.Model):
    """The single row that says which model serves and which one is being built."""

    active_model_key = models.CharField(max_length=200, blank=True)
    building_model_key = models.CharField(max_length=200, blank=True)
    previous_model_key = models.CharField(max_length=200, blank=True)
    # Stored encrypted (FIELD_ENCRYPTION_KEY); read back in clear. A dump shows only tokens.
    openai_api_key = EncryptedField(blank=True)
    openai_base_url = models.CharField(max_length=500, blank=True)
    ollama_host = models.CharField(max_length=500, blank=True)
    google_api_key = EncryptedField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "embedding settings"
        verbose_name_plural = "embedding settings"
        permissions = [
            ("run_jobs", "Can start, cancel and resume embedding jobs"),
            ("view_neighbours", "Can view neighbours, jobs and storage"),
        ]

    def __str__(self) -> str:
        return "Embedding settings"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.pk = 1
        super().save(*args, **kwargs)

    @classmethod
    def load(cls) -> EmbeddingSettings:
        obj, _ = cls.objects.get_or_create(pk=1)
        return obj

    @classmethod
    def locked(cls) -> EmbeddingSettings:
        """The row, locked until the caller's transaction ends: a second admin (or a job's
        cut-over) waits here and then sees what the first one changed."""
        cls.load()
        return cls.objects.select_for_update().get(pk=1)

    @property
    def active_key(self) -> str:
        """The model that serves: the one an admin chose, else the environment's default."""
        return self.active_model_key or default_model_key()

    @property
    def building_key(self) -> str:
        """The model being built beside the active one; empty when no switch is under way."""
        return self.building_model_key

    def cut_over(self) -> str:
        """Make the model being built the active one (the caller saves); returns its key."""
        self.previous_model_key = self.active_key
        self.active_model_key = self.building_model_key
        self.building_model_key = ""
        return self.active_model_key


class EmbeddingJobQuerySet(models.QuerySet["EmbeddingJob"]):
    def active(self) -> EmbeddingJobQuerySet:
        """Queued, running or cancelling: a worker has or will have it in hand."""
        return self.filter(status__in=EmbeddingJob.ACTIVE_STATUSES)

    def with_workers(self) -> EmbeddingJobQuerySet:
        """Each job annotated with `workers_alive`, whether any live database session works on
        it (embeddings.worker_locks), and `worker_count`, how many, read in the same query."""
        return self.annotate(workers_alive=worker_alive(), worker_count=worker_count())

    def orphaned(self) -> EmbeddingJobQuerySet:
        """Running or cancelling, but no worker holds them any more: their process died, and its
        database session and lock went with it. (A slow provider call is no sign of death: the
        worker's session holds the lock all along.)"""
        return self.filter(no_worker(), status__in=EmbeddingJob.BEATING_STATUSES)

    def move(self, to: str, *, from_: Iterable[str], **fields: Any) -> int:
        """Set status `to` on the rows still in one of `from_`, in one conditional UPDATE;
        returns how many moved (0 when another worker or a person moved them first)."""
        return self.filter(status__in=list(from_)).update(status=to, **fields)


class EmbeddingJob(models.Model):
    """A regeneration run for one kind of item into one model's set. Its state lives here, so a
    reload, a crashed worker or a second worker never loses it."""

    class Kind(models.TextChoices):
        MOVIES = "movie", "Movies"
        SERIES = "series", "Series"

    class Mode(models.TextChoices):
        ALL = "all", "All items"
        MISSING = "missing", "Missing only"
        STALE = "stale", "Missing or changed"

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

    kind = models.CharField(max_length=10, choices=Kind.choices)
    model_key = models.CharField(max_length=200)
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.STALE)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    batch_size = models.PositiveIntegerField(default=64)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    tokens_used = models.BigIntegerField(default=0)
    cost_usd = models.DecimalField(max_digits=12, decimal_places=6, default=0)
    spending_cap_usd = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    items_per_second = models.FloatField(default=0)
    eta_seconds = models.FloatField(null=True, blank=True)
    failed_batches_in_row = models.PositiveIntegerField(default=0)
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
        return self.done + self.skipped + self.failed

    @property
    def percent(self) -> float:
        if not self.total:
            return 100.0 if self.status == self.Status.COMPLETED else 0.0
        return min(100.0, 100.0 * self.processed / self.total)

    @property
    def elapsed_seconds(self) -> float | None:
        if self.started_at is None:
            return None
        end = self.finished_at or (timezone.now() if self.is_active else self.heartbeat_at)
        return max(0.0, ((end or self.started_at) - self.started_at).total_seconds())


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


class TokenCount(models.Model):
    """Cached token count of an item's text for one tokenizer, fresh while source_hash matches."""

    item = models.ForeignKey(CatalogItem, on_delete=models.CASCADE, related_name="+")
    tokenizer = models.CharField(max_length=100)
    source_hash = models.CharField(max_length=64)
    tokens = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["item", "tokenizer"], name="token_count_unique_item_tokenizer"
            )
        ]

    def __str__(self) -> str:
        return f"item {self.item_id}: {self.tokens} tokens ({self.tokenizer})"


class TokenTally(models.Model):
    """How many cached counts of each size a tokenizer has, so the settings page sums a few
    hundred rows instead of one per catalog item.

    PostgreSQL keeps it, with statement-level triggers on `TokenCount` (migration
    0008_token_tally): every insert, upsert, delete (a catalog item's cascade included) and
    truncate of token counts adds or subtracts its rows here in the same transaction, whichever
    code path wrote them. Counts by size, not one total per tokenizer, because each model caps a
    text at its own max tokens: the capped total is `sum(items * least(tokens, cap))`."""

    tokenizer = models.CharField(max_length=100)
    tokens = models.PositiveIntegerField()
    items = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tokenizer", "tokens"], name="token_tally_unique_tokenizer_tokens"
            )
        ]

    def __str__(self) -> str:
        return f"{self.items} items of {self.tokens} tokens ({self.tokenizer})"


class RowTally(models.Model):
    """How many rows the catalog holds per kind, and each embedding table per model, so pages
    and the cut-over read a few rows instead of counting a million.

    PostgreSQL keeps it, with statement-level triggers (migration 0011_row_tally) on
    `catalog_catalogitem` and the five embedding tables: every insert, COPY, upsert, update of
    the counted column, delete (cascades included) and truncate adds or subtracts its rows here
    in the same transaction, whichever code path wrote them."""

    table_name = models.CharField(max_length=63)
    key = models.CharField(max_length=200)  # the kind, or the model key
    rows = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["table_name", "key"], name="row_tally_unique_table_key")
        ]

    def __str__(self) -> str:
        return f"{self.rows} rows of {self.key} in {self.table_name}"

    @classmethod
    def count(cls, table: type[models.Model], key: str | None = None) -> int:
        """Rows of this table (with this kind or model key); every key's when None."""
        rows = cls.objects.filter(table_name=table._meta.db_table)
        if key is not None:
            rows = rows.filter(key=key)
        return int(rows.aggregate(total=models.Sum("rows"))["total"] or 0)


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


class QualityScore(models.Model):
    """Franchise siblings among the top 10 of one blend: recall@10 and hit@10."""

    run = models.ForeignKey(QualityRun, on_delete=models.CASCADE, related_name="scores")
    blend = models.CharField(max_length=20)
    queries = models.PositiveIntegerField()
    recall_at_10 = models.FloatField()
    hit_at_10 = models.FloatField()

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


# --- The lexical signal (embeddings/lexical.py builds it) ----------------------------------------

# pgvector's largest sparse dimension: a term's id is its dimension, so the vocabulary can grow.
LEXICAL_DIMENSIONS = 1_000_000_000


class LexicalTerm(models.Model):
    """One word of the catalog's vocabulary. Its id is its dimension in the lexical vectors, and
    `documents` the number of items that used it when the corpus statistics were last computed."""

    term = models.CharField(max_length=100, unique=True)
    documents = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "lexical_terms"

    def __str__(self) -> str:
        return self.term


class LexicalVectorQuerySet(models.QuerySet["LexicalVector"]):
    def of_items(
        self,
        *,
        kind: str = "",
        year_min: int | None = None,
        year_max: int | None = None,
        genre: str = "",
        exclude_item_id: int | None = None,
    ) -> LexicalVectorQuerySet:
        """The same filters as vectors: both tables are keyed by `item`."""
        return passing_filters(self, kind, year_min, year_max, genre, exclude_item_id)  # type: ignore[no-any-return]

    def nearest(self, vector: Any, *, k: int = 10, metric: str = "cosine") -> LexicalVectorQuerySet:
        """The k rows whose term weights are closest (cosine) to `vector`, annotated `distance`."""
        return self.annotate(distance=CosineDistance("embedding", vector)).order_by("distance")[:k]


class LexicalVector(models.Model):
    """An item's TF-IDF term weights (L2-normalised), from the same text and hash as its vectors.
    No index on the weights: lexical neighbours are found through `LexicalPosting`, and these
    rows give the exact cosine of the few candidates found there."""

    item = models.OneToOneField(
        CatalogItem, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    source_hash = models.CharField(max_length=64)
    embedding = SparseVectorField(dimensions=LEXICAL_DIMENSIONS)
    created_at = models.DateTimeField(auto_now=True)

    objects = LexicalVectorQuerySet.as_manager()

    class Meta:
        db_table = "lexical_vectors"

    def __str__(self) -> str:
        return f"lexical · item {self.item_id}"


class RealField(models.FloatField):  # type: ignore[type-arg]
    """A 4-byte float: a term weight needs no more, and the postings are many."""

    def db_type(self, connection: Any) -> str:
        return "real"


class LexicalPosting(models.Model):
    """One word of one item's lexical row (the same weight as in its `LexicalVector`). The
    (word, kind, weight) index lists each word's items of a kind heaviest first, so the items that share an
    item's heaviest words are a few short index reads (embeddings/lexical.py, `nearest`).

    No foreign-key constraint: lexical.py writes and removes postings with their rows, deleting
    an item deletes them (cascade in the ORM), and a database check on each of millions of
    loaded postings would cost more than the load."""

    pk = models.CompositePrimaryKey("item_id", "term_id")
    item = models.ForeignKey(
        CatalogItem, on_delete=models.CASCADE, related_name="+", db_index=False,
        db_constraint=False,
    )  # fmt: skip
    term_id = models.IntegerField()
    # The item's kind, so that the similar page's same-kind neighbours are read from the index
    # alone (a join to the catalog per posting cost 20 times the index read).
    kind = models.CharField(max_length=10)
    weight = RealField()

    class Meta:
        db_table = "lexical_postings"
        indexes = [
            models.Index(
                fields=["term_id", "kind", "-weight"], include=["item"],
                name="lexical_postings_impact",
            ),
        ]  # fmt: skip

    def __str__(self) -> str:
        return f"term {self.term_id} · item {self.item_id}: {self.weight:.4f}"


class LexicalCorpus(models.Model):
    """The single row of corpus statistics the term weights were computed with."""

    documents = models.PositiveIntegerField(default=0)
    # Rows written or removed since, weighted with these statistics; see lexical.needs_rebuild.
    changed = models.PositiveIntegerField(default=0)
    computed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "lexical_corpus"
        verbose_name_plural = "lexical corpus"

    def __str__(self) -> str:
        return f"{self.documents} documents"
