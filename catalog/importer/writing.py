"""Write validated rows into the catalog a batch at a time: insert the new items, update the
changed ones, and count what each row did, even while another import writes the same items."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import psycopg
from django.db import DatabaseError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from catalog.importer.copying import copy_items
from catalog.importer.report import ImportReport, Rejection
from catalog.models import CatalogItem


class Scratch:
    """Temporary tables of one import: which (kind, TMDB id) earlier batches held, on which line
    and whether the import changed its item's text (a million keys cost the importer no memory),
    and the staging table of writes."""

    SEEN = "catalog_import_seen"
    STAGE = "catalog_import_stage"

    def __enter__(self) -> Scratch:
        with connection.cursor() as cursor:
            cursor.execute(
                f"CREATE TEMPORARY TABLE IF NOT EXISTS {self.SEEN} "
                "(kind text, tmdb_id integer, line integer, "
                "text_changed boolean NOT NULL DEFAULT false, PRIMARY KEY (kind, tmdb_id))"
            )
            cursor.execute(
                f"CREATE TEMPORARY TABLE IF NOT EXISTS {self.STAGE} "
                f"(LIKE {CatalogItem._meta.db_table})"
            )
            # New items wait here without an id; the catalog gives them theirs.
            cursor.execute(f"ALTER TABLE {self.STAGE} ALTER COLUMN id DROP NOT NULL")
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
                    INSERT INTO {self.SEEN} (kind, tmdb_id, line) SELECT * FROM incoming
                    ON CONFLICT (kind, tmdb_id) DO UPDATE SET line = EXCLUDED.line
                )
                SELECT kind, tmdb_id, line FROM earlier
                """,
                [list(kinds), list(ids), list(numbers)],
            )
            return {(k, i): n for k, i, n in cursor.fetchall()}

    def first_text_changes(self, keys: list[tuple[str, int]]) -> set[tuple[str, int]]:
        """Note that these keys' items changed their text; return those not noted before (a
        key repeated further down the file may change its item's text again)."""
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {self.SEEN} AS s SET text_changed = true "
                "FROM unnest(%s::text[], %s::integer[]) AS r(kind, tmdb_id) "
                "WHERE s.kind = r.kind AND s.tmdb_id = r.tmdb_id AND NOT s.text_changed "
                "RETURNING s.kind, s.tmdb_id",
                [[kind for kind, _ in keys], [tmdb_id for _, tmdb_id in keys]],
            )
            return {(kind, tmdb_id) for kind, tmdb_id in cursor.fetchall()}


class Batch:
    """Up to `batch_size` validated rows on their way to the database."""

    def __init__(self, report: ImportReport, scratch: Scratch) -> None:
        self.report = report
        self.scratch = scratch
        self.started = timezone.now()  # items created since are not existing ones
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
        2. Write the batch in one transaction (`_write`); if the database refuses it, write it
           row by row, so only the rows it cannot store are rejected.
        3. Count what the committed writes did, and name the existing items whose text hash
           they changed, once each."""
        if not self.rows:
            return
        earlier = self.scratch.record(self.lines)
        self.report.superseded += sorted(earlier.values())
        rows = [
            _Row(self.lines[key], fields, counted=key in earlier)
            for key, fields in self.rows.items()
        ]
        self.rows.clear()
        self.lines.clear()
        try:
            with transaction.atomic():
                entries = _write(rows, self.scratch.STAGE)
        except (DatabaseError, psycopg.Error):
            entries = []
            for row in rows:
                try:
                    with transaction.atomic():
                        entries += _write([row], self.scratch.STAGE)
                except (DatabaseError, psycopg.Error) as exc:
                    self.report.rejected.append(Rejection(row.line, _refusal(exc)))
        for entry in entries:
            if not entry.row.counted:
                self.report.count(entry.outcome, entry.item.kind)
        changed = [e for e in entries if e.text_changed and e.item.created_at < self.started]
        if changed:
            first = self.scratch.first_text_changes([e.row.key for e in changed])
            for e in changed:
                if e.row.key in first:
                    self.report.text_change(e.item.pk, e.item.title)


def _refusal(exc: DatabaseError | psycopg.Error) -> str:
    first = str(exc).strip().splitlines()
    return f"cannot be stored ({first[0] if first else type(exc).__name__})"


@dataclass
class _Row:
    line: int
    fields: dict[str, Any]
    counted: bool  # an earlier batch held the same key and counted its item already

    @property
    def key(self) -> tuple[str, int]:
        return (self.fields["kind"], self.fields["tmdb_id"])


@dataclass
class _Entry:
    """A row against the item it finds: what writing it does."""

    row: _Row
    item: CatalogItem
    outcome: str  # "created", "updated" or "unchanged": the report's counter
    changed: list[str]
    stored_hash: str  # the item's text hash before the row is written

    @property
    def text_changed(self) -> bool:
        """Whether writing the row changed the text the item's embedding is made from (its
        hash is computed again as the row is written)."""
        return self.outcome == "updated" and self.item.text_hash != self.stored_hash


def _entry(row: _Row, item: CatalogItem | None) -> _Entry:
    if item is None:
        return _Entry(row, CatalogItem(**row.fields), "created", [], "")
    changed = [name for name, value in row.fields.items() if getattr(item, name) != value]
    for name in changed:
        setattr(item, name, row.fields[name])
    return _Entry(row, item, "updated" if changed else "unchanged", changed, item.text_hash)


def _write(rows: list[_Row], stage: str) -> list[_Entry]:
    """Write these rows, in the caller's transaction; another import of the same items may be
    writing them at the same time, so every outcome is what this write did.

    1. Read the items of the rows' keys; compare each row with its item's fields.
    2. Insert the rows without an item; a key another import inserted meanwhile is skipped
       here (the insert waits for that import's batch to commit) and compared in step 3.
    3. Lock the items the rows would change, in id order, and compare again with what is
       stored now: another import may have made the same change already.
    4. Update the items that still differ. A row whose item was deleted meanwhile goes back
       to step 2.
    """
    done: list[_Entry] = []
    existing = _existing([row.key for row in rows], lock=False)
    pending = [_entry(row, existing.get(row.key)) for row in rows]
    while pending:
        new = [e for e in pending if e.outcome == "created"]
        inserted = _insert(new, stage)
        done += [e for e in pending if e.outcome == "unchanged" or e.row.key in inserted]
        again = [e.row for e in pending if e.outcome != "unchanged" and e.row.key not in inserted]
        if not again:
            break
        locked = _existing([row.key for row in again], lock=True)
        entries = [_entry(row, locked.get(row.key)) for row in again]
        updated = [e for e in entries if e.outcome == "updated"]
        _update(updated, stage)
        done += [e for e in entries if e.outcome != "created"]
        pending = [e for e in entries if e.outcome == "created"]
    return done


def _insert(entries: list[_Entry], stage: str) -> set[tuple[str, int]]:
    """COPY the new items into the staging table and insert them from it in key order (two
    imports inserting the same keys then wait on each other in one order, never in a circle);
    returns the keys inserted. Many times faster than bulk_create's INSERT with a parameter
    per field and row."""
    if not entries:
        return set()
    now = timezone.now()
    for e in entries:
        e.item.created_at = e.item.updated_at = now
    copy_items(stage, [e.item for e in entries], with_id=False)
    columns = ", ".join(
        _columns(f.name for f in CatalogItem._meta.concrete_fields if not f.primary_key)
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {CatalogItem._meta.db_table} ({columns}) "
            f"SELECT {columns} FROM {stage} ORDER BY kind, tmdb_id "
            "ON CONFLICT (kind, tmdb_id) DO NOTHING RETURNING kind, tmdb_id"
        )
        inserted = {(kind, tmdb_id) for kind, tmdb_id in cursor.fetchall()}
        cursor.execute(f"DELETE FROM {stage}")
    return inserted


def _update(entries: list[_Entry], stage: str) -> None:
    """COPY the changed items into the staging table and UPDATE from it the fields the file
    changed."""
    if not entries:
        return
    now = timezone.now()
    for e in entries:
        e.item.updated_at = now
    copy_items(stage, [e.item for e in entries], with_id=True)
    names = {name for e in entries for name in e.changed} | {"updated_at", "text_hash"}
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {CatalogItem._meta.db_table} AS c SET "
            + ", ".join(f"{column} = s.{column}" for column in _columns(sorted(names)))
            + f" FROM {stage} AS s WHERE c.id = s.id"
        )
        cursor.execute(f"DELETE FROM {stage}")


def _columns(names: Iterable[str]) -> list[str]:
    by_name = {f.name: str(f.column) for f in CatalogItem._meta.concrete_fields}
    return [connection.ops.quote_name(by_name[name]) for name in names]


def _existing(keys: list[tuple[str, int]], *, lock: bool) -> dict[tuple[str, int], CatalogItem]:
    """The stored items of these (kind, TMDB id) keys; with `lock`, locked until the
    transaction ends, in id order."""
    ids_by_kind: dict[str, list[int]] = {}
    for item_kind, tmdb_id in keys:
        ids_by_kind.setdefault(item_kind, []).append(tmdb_id)
    if not ids_by_kind:
        return {}
    match = Q()
    for item_kind, ids in ids_by_kind.items():
        match |= Q(kind=item_kind, tmdb_id__in=ids)
    items = CatalogItem.objects.filter(match)
    if lock:
        items = items.select_for_update().order_by("pk")
    return {(item.kind, item.tmdb_id): item for item in items}
