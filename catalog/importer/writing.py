"""Write validated rows into the catalog in batches: COPY the new items in, update the changed."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from django.db import DatabaseError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from catalog.importer.report import ImportReport, Rejection
from catalog.models import CatalogItem
from embeddings.text import text_hash


class Scratch:
    """Temporary tables of one import: which (kind, TMDB id) earlier batches held and on which
    line (a million keys cost the importer no memory), and the staging table of updates."""

    SEEN = "catalog_import_seen"
    STAGE = "catalog_import_stage"

    def __enter__(self) -> Scratch:
        with connection.cursor() as cursor:
            cursor.execute(
                f"CREATE TEMPORARY TABLE IF NOT EXISTS {self.SEEN} "
                "(kind text, tmdb_id integer, line integer, PRIMARY KEY (kind, tmdb_id))"
            )
            cursor.execute(
                f"CREATE TEMPORARY TABLE IF NOT EXISTS {self.STAGE} "
                f"(LIKE {CatalogItem._meta.db_table})"
            )
            cursor.execute(f"TRUNCATE {self.SEEN}, {self.STAGE}")
        return self

    def __exit__(self, *exc: object) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {self.SEEN}, {self.STAGE}")

    def record(self, lines: dict[tuple[str, int], int]) -> dict[tuple[str, int], int]:
        """Remember these keys' lines; return the earlier line of each key seen before."""
        kinds, ids, numbers = zip(*((k, i, n) for (k, i), n in lines.items()), strict=True)
        with connection.cursor() as cursor:
            # One statement: every part of it sees the table as it was before the insert.
            cursor.execute(
                f"""
                WITH incoming AS (
                    SELECT * FROM unnest(%s::text[], %s::integer[], %s::integer[])
                        AS r(kind, tmdb_id, line)
                ), earlier AS (
                    SELECT s.kind, s.tmdb_id, s.line FROM {self.SEEN} s
                    JOIN incoming USING (kind, tmdb_id)
                ), recorded AS (
                    INSERT INTO {self.SEEN} SELECT * FROM incoming
                    ON CONFLICT (kind, tmdb_id) DO UPDATE SET line = EXCLUDED.line
                )
                SELECT kind, tmdb_id, line FROM earlier
                """,
                [list(kinds), list(ids), list(numbers)],
            )
            return {(k, i): n for k, i, n in cursor.fetchall()}


class Batch:
    """Up to `batch_size` validated rows on their way to the database."""

    def __init__(self, report: ImportReport, scratch: Scratch) -> None:
        self.report = report
        self.scratch = scratch
        self.rows: dict[tuple[str, int], dict[str, Any]] = {}
        self.lines: dict[tuple[str, int], int] = {}

    def __len__(self) -> int:
        return len(self.rows)

    def add(self, line: int, fields: dict[str, Any]) -> None:
        key = (fields["kind"], fields["tmdb_id"])
        if key in self.rows:
            self.report.superseded.append(self.lines[key])
            del self.rows[key]  # the later row goes to the end, as in the file
        self.rows[key] = fields
        self.lines[key] = line

    def write(self) -> None:
        """1. Note keys an earlier batch held (superseded; their item is counted once).
        2. Fetch the existing items of the batch's keys in one query.
        3. Sort rows into new, changed and unchanged, comparing the fields the file provides.
        4. Insert the new and upsert the changed, in one transaction; if the database refuses
           the batch, write it row by row, so only the rows it cannot store are rejected."""
        if not self.rows:
            return
        earlier = self.scratch.record(self.lines)
        self.report.superseded += sorted(earlier.values())
        existing = {(item.kind, item.tmdb_id): item for item in _existing(self.rows)}
        plan = _Plan(
            [
                _entry(self.lines[key], fields, existing.get(key), counted=key in earlier)
                for key, fields in self.rows.items()
            ]
        )
        self.rows.clear()
        self.lines.clear()
        try:
            with transaction.atomic():
                plan.write(self.scratch.STAGE)
        except (DatabaseError, psycopg.Error):
            for single in plan.singles():
                try:
                    with transaction.atomic():
                        single.write(self.scratch.STAGE)
                except (DatabaseError, psycopg.Error) as exc:
                    (entry,) = single.entries
                    self.report.rejected.append(Rejection(entry.line, _refusal(exc)))
                    continue
                single.count(self.report)
        else:
            plan.count(self.report)


def _refusal(exc: DatabaseError | psycopg.Error) -> str:
    first = str(exc).strip().splitlines()
    return f"cannot be stored ({first[0] if first else type(exc).__name__})"


@dataclass
class _Entry:
    line: int
    item: CatalogItem
    outcome: str  # "created", "updated" or "unchanged": the report's counter
    changed: list[str]
    counted: bool  # an earlier batch held the same key and counted its item already


def _entry(line: int, fields: dict[str, Any], item: CatalogItem | None, *, counted: bool) -> _Entry:
    if item is None:
        return _Entry(line, CatalogItem(**fields), "created", [], counted)
    changed = [name for name, value in fields.items() if getattr(item, name) != value]
    for name in changed:
        setattr(item, name, fields[name])
    return _Entry(line, item, "updated" if changed else "unchanged", changed, counted)


@dataclass
class _Plan:
    """What a batch (or one row of it) writes, and how it counts in the report."""

    entries: list[_Entry]

    def write(self, stage: str) -> None:
        """COPY the new rows into the catalog; COPY the changed ones into the staging table and
        UPDATE from it the fields the file changed. Many times faster than bulk_create's
        INSERT with a parameter per field and row."""
        now = timezone.now()
        created = [e.item for e in self.entries if e.outcome == "created"]
        updated = [e for e in self.entries if e.outcome == "updated"]
        for item in created:
            item.created_at = item.updated_at = now
        if created:
            _copy(CatalogItem._meta.db_table, created, with_id=False)
        if not updated:
            return
        for e in updated:
            e.item.updated_at = now
        _copy(stage, [e.item for e in updated], with_id=True)
        names = sorted({name for e in updated for name in e.changed} | {"updated_at", "text_hash"})
        quote = connection.ops.quote_name
        by_name = {f.name: str(f.column) for f in CatalogItem._meta.concrete_fields}
        columns = [quote(by_name[name]) for name in names]
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {CatalogItem._meta.db_table} AS c SET "
                + ", ".join(f"{column} = s.{column}" for column in columns)
                + f" FROM {stage} AS s WHERE c.id = s.id"
            )
            cursor.execute(f"DELETE FROM {stage}")

    def count(self, report: ImportReport) -> None:
        for e in self.entries:
            if not e.counted:
                setattr(report, e.outcome, getattr(report, e.outcome) + 1)
                report.kinds[e.item.kind] = report.kinds.get(e.item.kind, 0) + 1

    def singles(self) -> Iterator[_Plan]:
        """The same writes, one row each."""
        return (_Plan([e]) for e in self.entries)


def _copy(table: str, items: list[CatalogItem], *, with_id: bool) -> None:
    """COPY every concrete field of these items into `table` (the id too when `with_id`), their
    text hashes computed here, as `CatalogItem.save` would."""
    fields = [f for f in CatalogItem._meta.concrete_fields if with_id or not f.primary_key]
    columns = ", ".join(connection.ops.quote_name(str(f.column)) for f in fields)
    names = [f.attname for f in fields]
    connection.ensure_connection()
    # Django's connection, in the batch's transaction; its own cursors have no COPY.
    with (
        psycopg.Cursor(connection.connection) as cursor,
        cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
    ):
        for item in items:
            item.text_hash = text_hash(item)
        copy.write("".join(_copy_line([getattr(item, name) for name in names]) for item in items))


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_line(values: list[Any]) -> str:
    """One row in COPY's text format (psycopg's own row writer took most of an import's time)."""
    return "\t".join(map(_copy_value, values)) + "\n"


def _copy_value(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, list):
        value = "{" + ",".join('"' + _array_escape(v) + '"' for v in value) + "}"
    elif isinstance(value, datetime):
        value = value.isoformat()
    else:
        value = str(value)
    text: str = value
    return text.translate(_COPY_ESCAPES)


def _array_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _existing(rows: dict[tuple[str, int], dict[str, Any]]) -> list[CatalogItem]:
    ids_by_kind: dict[str, list[int]] = {}
    for item_kind, tmdb_id in rows:
        ids_by_kind.setdefault(item_kind, []).append(tmdb_id)
    if not ids_by_kind:
        return []
    match = Q()
    for item_kind, ids in ids_by_kind.items():
        match |= Q(kind=item_kind, tmdb_id__in=ids)
    return list(CatalogItem.objects.filter(match))
