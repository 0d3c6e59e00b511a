"""What curators say about an item's neighbours: judgments (a graded pair) and pins and hides.

Every row names its titles by kind and TMDb id, never by catalog id or model: a judgment, a pin
or a hide outlives a model switch, a re-import and a rebuilt catalog. The catalog holds every
title under a TMDb id, unique within its kind, so every item can be curated; both titles of a
pair are of one kind (as the judgments file and the judged quality measure read them).

One row per pair: judging or pinning again updates it, so a double click stores one row. Every
change, and every clear, is a row of Django's admin log, written in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.contrib.admin.models import ADDITION, DELETION, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.db.models import Exists, OuterRef, Subquery
from django.utils import timezone

from catalog.models import CatalogItem
from embeddings.models.judgment_files import Judged

PAIR = ("kind", "query_tmdb_id", "neighbour_tmdb_id")


class Grade(models.IntegerChoices):
    BAD = 0, "Bad"
    ACCEPTABLE = 1, "Acceptable"
    GOOD = 2, "Good"


def _catalog(tmdb_field: str) -> models.QuerySet[CatalogItem]:
    """The catalog item a row names in `tmdb_field`, as a subquery."""
    return CatalogItem.objects.filter(kind=OuterRef("kind"), tmdb_id=OuterRef(tmdb_field))


class PairQuerySet(models.QuerySet[Any]):
    def about(self, item: CatalogItem) -> PairQuerySet:
        """The rows whose query is this item."""
        return self.filter(kind=item.kind, query_tmdb_id=item.tmdb_id)

    def pair(self, item: CatalogItem, neighbour: CatalogItem) -> PairQuerySet:
        return self.about(item).filter(neighbour_tmdb_id=neighbour.tmdb_id)

    def with_titles(self) -> PairQuerySet:
        """Each row with its two titles as the catalog holds them today: `query_id`,
        `query_title`, `query_year`, `neighbour_id`, … (None for a title it does not hold)."""
        fields = {}
        for side in ("query", "neighbour"):
            for name in ("id", "title", "year"):
                fields[f"{side}_{name}"] = Subquery(_catalog(f"{side}_tmdb_id").values(name)[:1])
        titled: PairQuerySet = self.select_related("set_by").annotate(**fields)
        return titled

    def query_titled(self, words: str) -> PairQuerySet:
        """The rows whose query title contains these words."""
        return self.filter(Exists(_catalog("query_tmdb_id").filter(title__icontains=words)))


class CuratedPair(models.Model):
    """A query title and one of its neighbours (kind and TMDb ids), who said it and when."""

    kind = models.CharField(max_length=10, choices=CatalogItem.Kind.choices)
    query_tmdb_id = models.PositiveIntegerField("query TMDb id")
    neighbour_tmdb_id = models.PositiveIntegerField("neighbour TMDb id")
    # None: imported from a file (or the account was deleted since).
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    set_at = models.DateTimeField(default=timezone.now)

    objects = PairQuerySet.as_manager()

    class Meta:
        abstract = True


class Judgment(CuratedPair):
    """`neighbour` is a good (2), acceptable (1) or bad (0) match for `query`."""

    grade = models.PositiveSmallIntegerField(choices=Grade.choices)

    class Meta:
        ordering = ["-set_at", "-id"]
        constraints = [models.UniqueConstraint(fields=PAIR, name="judgment_one_per_pair")]
        indexes = [models.Index(fields=["set_at"], name="judgment_set_at")]

    def __str__(self) -> str:
        return f"{self.kind} {self.query_tmdb_id} → {self.neighbour_tmdb_id}: {self.grade}"


class Curation(CuratedPair):
    """A pin (the neighbour shows at `rank` whatever the model ranks) or a hide (it never shows)
    among the query's neighbours."""

    class Action(models.TextChoices):
        PIN = "pin", "Pinned"
        HIDE = "hide", "Hidden"

    action = models.CharField(max_length=4, choices=Action.choices)
    rank = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["action", "rank", "-set_at", "-id"]
        permissions = [("curate_neighbours", "Can judge, pin and hide neighbours")]
        constraints = [
            models.UniqueConstraint(fields=PAIR, name="curation_one_per_pair"),
            models.CheckConstraint(
                condition=models.Q(action="pin", rank__gte=1)
                | models.Q(action="hide", rank__isnull=True),
                name="curation_pin_has_a_rank",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.query_tmdb_id} → {self.neighbour_tmdb_id}: {self.describe()}"

    def describe(self) -> str:
        return f"pinned at rank {self.rank}" if self.action == self.Action.PIN else "hidden"


# --- Changes, each with its admin log row ------------------------------------------------------


def _pair(item: CatalogItem, neighbour: CatalogItem) -> dict[str, Any]:
    return {
        "kind": item.kind,
        "query_tmdb_id": item.tmdb_id,
        "neighbour_tmdb_id": neighbour.tmdb_id,
    }


def _upsert(row: CuratedPair, fields: list[str]) -> None:
    """Insert the pair's row, or update the one there (its id set on `row` either way): one
    statement, so two clicks racing each other still leave one row."""
    type(row).objects.bulk_create(
        [row],
        update_conflicts=True,
        unique_fields=PAIR,
        update_fields=[*fields, "set_by", "set_at"],
    )


def _log(user: Any, row: CuratedPair, flag: int, what: str, repr_: str) -> None:
    LogEntry.objects.create(
        user_id=user.pk,
        content_type=ContentType.objects.get_for_model(type(row)),
        object_id=str(row.pk),
        object_repr=repr_[:200],
        action_flag=flag,
        change_message=what,
    )


def _repr(item: CatalogItem, neighbour: CatalogItem) -> str:
    return f"{item} → {neighbour}"


@transaction.atomic
def judge(item: CatalogItem, neighbour: CatalogItem, grade: int, user: Any) -> Judgment:
    row = Judgment(**_pair(item, neighbour), grade=grade, set_by=user, set_at=timezone.now())
    _upsert(row, ["grade"])
    _log(user, row, ADDITION, f"Judged {Grade(grade).label.lower()}", _repr(item, neighbour))
    return row


@transaction.atomic
def pin(item: CatalogItem, neighbour: CatalogItem, rank: int, user: Any) -> Curation:
    """Pin the neighbour at `rank` (1 is first); a hide of the same pair becomes this pin."""
    row = Curation(
        **_pair(item, neighbour), action=Curation.Action.PIN, rank=rank, set_by=user,
        set_at=timezone.now(),
    )  # fmt: skip
    _upsert(row, ["action", "rank"])
    _log(user, row, ADDITION, f"Pinned at rank {rank}", _repr(item, neighbour))
    return row


@transaction.atomic
def hide(item: CatalogItem, neighbour: CatalogItem, user: Any) -> Curation:
    """Hide the neighbour from the item's lists; a pin of the same pair becomes this hide."""
    row = Curation(
        **_pair(item, neighbour), action=Curation.Action.HIDE, rank=None, set_by=user,
        set_at=timezone.now(),
    )  # fmt: skip
    _upsert(row, ["action", "rank"])
    _log(user, row, ADDITION, "Hidden", _repr(item, neighbour))
    return row


@transaction.atomic
def clear(item: CatalogItem, neighbour: CatalogItem, user: Any) -> list[str]:
    """Remove the pair's judgment and its pin or hide; returns what was removed (nothing
    removed, nothing logged)."""
    removed = []
    judgment = Judgment.objects.pair(item, neighbour).select_for_update().first()
    curation = Curation.objects.pair(item, neighbour).select_for_update().first()
    for row, what in (
        (judgment, judgment and f"judged {judgment.get_grade_display().lower()}"),
        (curation, curation and curation.describe()),
    ):
        if row is not None and what:
            _log(user, row, DELETION, f"Cleared: {what}", _repr(item, neighbour))
            row.delete()
            removed.append(what)
    return removed


# --- Judgments in bulk (files) -----------------------------------------------------------------

IMPORT_BATCH = 1000


def store_judgments(judgments: Iterable[Judged], user: Any, source: str) -> int:
    """Store graded pairs read from a file (no one's click: `set_by` stays empty), a pair there
    already taking the file's grade; a pair the file names twice keeps its later grade. One
    admin log row names the file and the count, as `user`. Returns the pairs stored."""
    latest = {(j.kind, j.query, j.relevant): j for j in judgments}
    now = timezone.now()
    rows = [
        Judgment(kind=j.kind, query_tmdb_id=j.query, neighbour_tmdb_id=j.relevant, grade=j.grade,
                 set_at=now)
        for j in latest.values()
    ]  # fmt: skip
    with transaction.atomic():
        for start in range(0, len(rows), IMPORT_BATCH):
            Judgment.objects.bulk_create(
                rows[start : start + IMPORT_BATCH], update_conflicts=True, unique_fields=PAIR,
                update_fields=["grade", "set_by", "set_at"],
            )  # fmt: skip
        LogEntry.objects.create(
            user_id=user.pk,
            content_type=ContentType.objects.get_for_model(Judgment),
            object_repr=source[:200],
            action_flag=ADDITION,
            change_message=f"Imported {len(rows):,} judgments from {source}",
        )
    return len(rows)


def stored_judgments() -> list[Judged]:
    """Every stored judgment as a graded pair (for files and the judged quality measure)."""
    rows = Judgment.objects.order_by(*PAIR).values_list(*PAIR, "grade")
    return [Judged(query, neighbour, grade, kind) for kind, query, neighbour, grade in rows]
