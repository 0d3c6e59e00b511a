from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector
from django.core.cache import cache
from django.db import connections, models, transaction
from django.db.models import F, Func
from django.db.models.expressions import RawSQL

from embeddings.text import TEXT_FIELDS, ItemFields, text_hash
from reclio_admin.jobs import BackgroundJob, JobQuerySet

HASH_CHUNK = 2000
GENRES_CACHE_SECONDS = 600
# The words of the titles, as the admin's search reads them through an index.
TITLE_WORDS = SearchVector("title", "original_title", config="simple")


def _touches_text(fields: Iterable[str]) -> bool:
    return not set(TEXT_FIELDS).isdisjoint(fields)


class CatalogItemQuerySet(models.QuerySet["CatalogItem"]):
    """Every bulk path keeps `text_hash` current, so what is stale can be decided in SQL."""

    def movies(self) -> CatalogItemQuerySet:
        return self.filter(kind=CatalogItem.Kind.MOVIE)

    def series(self) -> CatalogItemQuerySet:
        return self.filter(kind=CatalogItem.Kind.SERIES)

    def bulk_create(
        self,
        objs: Iterable[Any],  # CatalogItem; the stubs' covariant type variable admits no narrower
        batch_size: int | None = None,
        ignore_conflicts: bool = False,
        update_conflicts: bool = False,
        update_fields: Collection[str] | None = None,
        unique_fields: Collection[str] | None = None,
    ) -> list[Any]:
        objs = list(objs)
        for item in objs:
            item.text_hash = text_hash(item)
        if update_fields and _touches_text(update_fields):
            update_fields = [*update_fields, "text_hash"]
        return super().bulk_create(
            objs,
            batch_size=batch_size,
            ignore_conflicts=ignore_conflicts,
            update_conflicts=update_conflicts,
            update_fields=update_fields,
            unique_fields=unique_fields,
        )

    def bulk_update(
        self, objs: Iterable[Any], fields: Iterable[str], batch_size: int | None = None
    ) -> int:
        fields = list(fields)
        if _touches_text(fields):
            objs = list(objs)
            for item in objs:
                item.text_hash = text_hash(item)
            fields.append("text_hash")
        return super().bulk_update(objs, fields, batch_size=batch_size)

    def update(self, **kwargs: Any) -> int:
        """An UPDATE that changes a text field hashes the rows it changed again afterwards."""
        if not _touches_text(kwargs):
            return super().update(**kwargs)
        with transaction.atomic(using=self.db):
            ids = list(self.values_list("pk", flat=True))
            changed = super().update(**kwargs)
            for start in range(0, len(ids), HASH_CHUNK):
                CatalogItem.objects.filter(
                    pk__in=ids[start : start + HASH_CHUNK]
                ).refresh_text_hashes()
        return changed

    def refresh_text_hashes(self) -> int:
        """Hash these items' texts again, in primary-key chunks; returns how many hashes changed.

        For writers that bypass the ORM, and after a change to how `item_text` builds a text."""
        return refresh_text_hashes(self)

    def last_change(self) -> str:
        """When these items last changed (indexed), as a cache key part; "" when there are none."""
        latest = self.aggregate(latest=models.Max("updated_at"))["latest"]
        return latest.isoformat() if latest else ""

    def genres(self) -> list[str]:
        """Every genre these items carry, once each, in order (one scan of the rows)."""
        names = self.annotate(genre=Func(F("genres"), function="unnest")).values_list(
            "genre", flat=True
        )
        return list(names.order_by("genre").distinct())


def refresh_text_hashes(items: models.QuerySet[Any]) -> int:
    """`refresh_text_hashes` for any queryset of catalog rows (the migration passes its
    historical model's).

    1. Read a chunk of (id, stored hash, text fields) in primary-key order after the last id.
    2. Hash each text; keep the rows whose hash differs from the stored one.
    3. Write those in one UPDATE … FROM unnest(…); go on after the chunk's last id.
    """
    table = items.model._meta.db_table
    changed, last = 0, 0
    while True:
        rows = list(
            items.filter(pk__gt=last)
            .order_by("pk")
            .values_list("pk", "text_hash", *TEXT_FIELDS)[:HASH_CHUNK]
        )
        if not rows:
            return changed
        last = rows[-1][0]
        fresh = [
            (pk, digest)
            for pk, old, *fields in rows
            if (digest := text_hash(ItemFields(*fields))) != old
        ]
        if fresh:
            with connections[items.db].cursor() as cursor:
                cursor.execute(
                    f"UPDATE {table} AS t SET text_hash = f.digest "
                    "FROM unnest(%s::bigint[], %s::text[]) AS f(id, digest) WHERE t.id = f.id",
                    [[pk for pk, _ in fresh], [digest for _, digest in fresh]],
                )
            changed += len(fresh)


class CatalogItem(models.Model):
    """A film or a series of the catalog; the text of its embedding is built from these fields."""

    class Kind(models.TextChoices):
        MOVIE = "movie", "Movie"
        SERIES = "series", "Series"

    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.MOVIE)
    tmdb_id = models.PositiveIntegerField("TMDB id")
    imdb_id = models.CharField("IMDb id", max_length=20, blank=True)
    title = models.CharField(max_length=300)
    original_title = models.CharField(max_length=300, blank=True)
    year = models.PositiveSmallIntegerField(null=True, blank=True)
    tagline = models.CharField(max_length=500, blank=True)
    overview = models.TextField(blank=True)
    genres = ArrayField(models.CharField(max_length=60), default=list, blank=True)
    keywords = ArrayField(models.CharField(max_length=120), default=list, blank=True)
    cast = ArrayField(models.CharField(max_length=200), default=list, blank=True)
    director = models.CharField(
        "director / creators",
        max_length=300,
        blank=True,
        help_text="Director of a film, creators of a series.",
    )
    collection = models.CharField(
        max_length=200,
        blank=True,
        help_text="TMDb collection (franchise), e.g. Toy Story Collection.",
    )
    runtime = models.PositiveIntegerField("runtime (min)", null=True, blank=True)
    seasons = models.PositiveIntegerField(null=True, blank=True)
    popularity = models.FloatField(null=True, blank=True)
    vote_average = models.FloatField(null=True, blank=True)
    vote_count = models.PositiveIntegerField(null=True, blank=True)
    # sha256 of `item_text(self)`, "" when the item has no text: what an embedding row's
    # `source_hash` is compared with, so stale and missing items are found in SQL.
    text_hash = models.CharField(max_length=64, blank=True, default="", editable=False)
    # When the item was added, or its embedding text or its collection last changed: what a
    # quality measurement depends on. Kept by a database trigger (migration 0006), so every
    # writer counts, COPY and raw SQL included, and a vote count's change does not.
    content_changed_at = models.DateTimeField(null=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CatalogItemQuerySet.as_manager()

    class Meta:
        ordering = ["title", "year"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "tmdb_id"], name="catalog_item_unique_kind_tmdb_id"
            ),
        ]
        indexes = [
            GinIndex(fields=["genres"], name="catalog_item_genres_gin"),
            models.Index(fields=["kind", "year"], name="catalog_item_kind_year"),
            models.Index(fields=["title"], name="catalog_item_title"),
            models.Index(fields=["collection"], name="catalog_item_collection"),
            GinIndex(TITLE_WORDS, name="catalog_item_title_words"),
            # What changed last: a cache key for lists read from every row (genres, counts).
            models.Index(fields=["updated_at"], name="catalog_item_updated_at"),
            # What changed since a quality measurement, counted from the index alone.
            models.Index(fields=["content_changed_at"], name="catalog_item_content_changed"),
            # Stale checks read (kind, id, text_hash) from the index alone.
            models.Index(
                fields=["kind", "id"], include=["text_hash"], name="catalog_item_kind_id_hash"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.year})" if self.year else self.title

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.text_hash = text_hash(self)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and _touches_text(update_fields):
            kwargs["update_fields"] = {*update_fields, "text_hash"}
        super().save(*args, **kwargs)


def catalog_genres() -> list[str]:
    """The genres the catalog has (films and series use different TMDb names), for the admin's
    filter and the similar page's. Reading them scans every row, so they are kept until the
    catalog changes (or ten minutes)."""
    key = f"catalog-genres:{CatalogItem.objects.last_change()}"
    genres: list[str] = (
        cache.get_or_set(key, CatalogItem.objects.genres, GENRES_CACHE_SECONDS) or []
    )
    return genres


class SyncJobQuerySet(JobQuerySet["SyncJob"]):
    def with_workers(self) -> SyncJobQuerySet:
        """Each sync annotated with `workers_alive`: whether a live database session runs it."""
        return self.annotate(
            workers_alive=RawSQL(SYNC_ALIVE_SQL, [SYNC_LOCKS], output_field=models.BooleanField())
        )

    def orphaned(self) -> SyncJobQuerySet:
        """Running or cancelling, but no session holds their lock: their worker died."""
        dead = RawSQL(f"NOT {SYNC_ALIVE_SQL}", [SYNC_LOCKS], output_field=models.BooleanField())
        return self.filter(dead, status__in=SyncJob.BEATING_STATUSES)


# The advisory lock a sync's worker holds for as long as it runs it (first key "RE" "S1"): when
# the process dies, however it dies, PostgreSQL drops it with the session.
SYNC_LOCKS = 0x52455331
SYNC_ALIVE_SQL = (
    "EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted"
    " AND l.classid = %s AND l.objid = catalog_syncjob.id AND l.objsubid = 2)"
)


class SyncJob(BackgroundJob):
    """A content sync from TMDb: its window of changes, the charts it adds new titles from, and
    its progress. Its work list (`SyncEntry`) is in the database, so a killed worker loses at
    most the batch in flight and a resume goes on where it stopped."""

    source = models.CharField(max_length=20, default="tmdb")
    since = models.DateField(help_text="The first day of TMDb's changes it reads.")
    until = models.DateField(help_text="The last day of TMDb's changes it reads.")
    # Charts new titles come from, as "movie:popular", "series:top_rated", …, and how many pages.
    charts = ArrayField(models.CharField(max_length=40), default=list, blank=True)
    chart_pages = models.PositiveSmallIntegerField(default=0)
    listed = models.BooleanField(default=False)  # its work list is complete
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    added = models.PositiveIntegerField(default=0)
    missing = models.PositiveIntegerField(default=0)  # TMDb answered 404; kept in the catalog
    skipped = models.PositiveIntegerField(default=0)  # a malformed answer
    requests = models.PositiveIntegerField(default=0)

    objects = SyncJobQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["source"],
                condition=models.Q(status__in=["queued", "running", "cancelling"]),
                name="one_active_sync_per_source",
            ),
        ]

    def __str__(self) -> str:
        return f"Sync #{self.pk} from {self.source} ({self.status})"

    @property
    def processed(self) -> int:
        return self.updated + self.unchanged + self.added + self.missing + self.skipped

    @property
    def total_known(self) -> bool:
        return self.listed


class SyncEntry(models.Model):
    """A title a sync looks at: one the catalog holds that TMDb changed, or one of a chart the
    catalog lacks. `outcome` is empty until it is done; a 404 or a malformed answer keeps its
    reason, for the report."""

    class Outcome(models.TextChoices):
        PENDING = "", "Pending"
        UPDATED = "updated", "Updated"
        UNCHANGED = "unchanged", "Unchanged"
        ADDED = "added", "Added"
        MISSING = "missing", "Not on TMDb any more"
        SKIPPED = "skipped", "Skipped"

    job = models.ForeignKey(SyncJob, on_delete=models.CASCADE, related_name="entries")
    kind = models.CharField(max_length=10, choices=CatalogItem.Kind.choices)
    tmdb_id = models.PositiveIntegerField()
    new = models.BooleanField(default=False)  # from a chart: added when the catalog lacks it
    outcome = models.CharField(max_length=10, choices=Outcome.choices, blank=True, default="")
    reason = models.CharField(max_length=500, blank=True)
    title = models.CharField(max_length=300, blank=True)  # the catalog's, for the report

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["job", "kind", "tmdb_id"], name="sync_entry_unique_title"
            ),
        ]
        indexes = [
            # The work still to do, in id order, read a chunk at a time.
            models.Index(
                fields=["job", "id"],
                condition=models.Q(outcome=""),
                name="sync_entry_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.tmdb_id} in sync #{self.job_id}: {self.outcome or 'pending'}"

    @property
    def named(self) -> str:
        """How a report names the title: kind, TMDb id and the catalog's title."""
        return f"{self.kind} {self.tmdb_id}" + (f" ({self.title})" if self.title else "")

    @property
    def report_line(self) -> str:
        """The report's line: "movie 12 (Heat): not on TMDb any more, TMDb answered 404 …"."""
        said = str(self.get_outcome_display())
        return f"{self.named}: {said[:1].lower()}{said[1:]}, {self.reason}"
