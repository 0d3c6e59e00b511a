"""Import a catalog file (TMDb-style CSV or JSON Lines) into CatalogItem, idempotently.

A bad row is reported with its line number and skipped; the rest of the file still imports.
Items are matched on (kind, TMDB id), so running the same file twice changes nothing.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any, BinaryIO

import psycopg
from django.db import DatabaseError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from tqdm import tqdm

from catalog.models import CatalogItem
from embeddings.text import text_hash

BATCH_SIZE = 1000
MAX_INT = 2_147_483_647  # PostgreSQL integer, the column type of the count fields
FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
KINDS = {choice.value for choice in CatalogItem.Kind}

TEXT_FIELDS = ["imdb_id", "title", "original_title", "tagline", "overview", "collection"]
LIST_FIELDS = ["genres", "keywords", "cast"]
INT_FIELDS = ["runtime", "seasons", "vote_count"]
FLOAT_FIELDS = ["popularity", "vote_average"]


class CatalogFileError(Exception):
    """The file as a whole cannot be read: missing, unknown format, not UTF-8."""


class RowError(ValueError):
    """One row is unusable; the message says why, in words a curator understands."""


@dataclass
class Rejection:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    # Lines whose TMDB id appeared again further down the file; the later row was kept.
    superseded: list[int] = field(default_factory=list)
    kinds: dict[str, int] = field(default_factory=dict)

    def progress(self) -> str:
        return (
            f"{self.created:,} created, {self.updated:,} updated, {len(self.rejected):,} rejected"
        )

    def summary(self, limit: int = 50) -> list[str]:
        """The lines to show a person: counts first, then each rejected row with its reason."""
        films, series = self.kinds.get("movie", 0), self.kinds.get("series", 0)
        lines = [
            f"{_count(films, 'film')} and {series:,} series: {self.created:,} created, {self.updated:,} updated, "
            f"{self.unchanged:,} unchanged, {len(self.rejected):,} rejected."
        ]
        if self.superseded:
            earlier = ", ".join(map(str, self.superseded[:limit]))
            lines.append(
                f"{len(self.superseded):,} row(s) had a TMDB id that appears again later in the file; "
                f"the later row was kept (replaced: line {earlier})."
            )
        lines += [f"Rejected {rejection}" for rejection in self.rejected[:limit]]
        if len(self.rejected) > limit:
            lines.append(f"… and {len(self.rejected) - limit:,} more rejected rows.")
        return lines


def import_catalog(
    path: str | Path, *, kind: str = "movie", progress: bool = False, batch_size: int = BATCH_SIZE
) -> ImportReport:
    """Upsert every valid row of the file, streaming it: memory stays flat whatever its size.

    1. Read the file a row at a time; a row that cannot be read or validated is reported with
       its line and skipped.
    2. Every `batch_size` good rows, write the batch (`_Batch.write`); a later row with the same
       (kind, TMDB id) replaces an earlier one, in the same batch or an earlier one.
    3. Each batch commits on its own, so a million-row import holds no long transaction; a row
       the database refuses is reported like any other bad row.
    """
    source = Path(path)
    report = ImportReport()
    with _Scratch() as scratch, _bar(source, progress) as bar:
        batch = _Batch(report, scratch)
        for line, raw in _read(source, bar):
            try:
                fields = parse_row(raw, default_kind=kind)
            except (RowError, ValueError, TypeError, RecursionError) as exc:
                report.rejected.append(Rejection(line, _reason(exc)))
                continue
            batch.add(line, fields)
            if len(batch) >= batch_size:
                batch.write()
                bar.set_postfix_str(report.progress(), refresh=False)
        batch.write()
    return report


def _reason(exc: Exception) -> str:
    if isinstance(exc, RecursionError):
        return "is nested too deeply to read"
    return (
        str(exc) if isinstance(exc, RowError) else f"cannot be read ({type(exc).__name__}: {exc})"
    )


class _Scratch:
    """Temporary tables of one import: which (kind, TMDB id) earlier batches held and on which
    line (a million keys cost the importer no memory), and the staging table of updates."""

    SEEN = "catalog_import_seen"
    STAGE = "catalog_import_stage"

    def __enter__(self) -> _Scratch:
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


class _Batch:
    """Up to `batch_size` validated rows on their way to the database."""

    def __init__(self, report: ImportReport, scratch: _Scratch) -> None:
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


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}" if number == 1 else f"{number:,} {noun}s"


# --- Reading


def _bar(path: Path, progress: bool) -> Any:
    """Progress through the file's bytes, drawn only on a terminal."""
    size = path.stat().st_size if path.is_file() else 0
    return tqdm(
        total=size, desc="Importing", unit="B", unit_scale=True, disable=not progress, smoothing=0.1
    )


def _read(path: Path, bar: Any) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    if not path.is_file():
        raise CatalogFileError(f"{path}: no such file")
    file_format = FORMATS.get(path.suffix.lower())
    if file_format is None:
        raise CatalogFileError(
            f"{path}: unknown format {path.suffix or '(no extension)'!r}; use .csv, .jsonl or .ndjson"
        )
    with path.open("rb") as handle:
        if file_format == "jsonl":
            yield from _read_jsonl(handle, bar)
            return
        try:
            yield from _read_csv(handle, bar)
        except csv.Error as exc:  # the header itself
            raise CatalogFileError(f"{path}: not a readable CSV file ({exc})") from None


def _read_csv(binary: BinaryIO, bar: Any) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    # Bytes that are not UTF-8 become lone surrogates here and reject their row in `_text`.
    handle = io.TextIOWrapper(binary, encoding="utf-8-sig", errors="surrogateescape", newline="")
    reader = csv.DictReader(handle)
    if reader.fieldnames is None:  # reads the header, so line_num counts from it
        return
    position = 0
    while True:
        # A quoted field may span lines: the row starts on the line after the previous row ended.
        line = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield line, RowError(f"is not a readable CSV row ({exc})")
            if reader.line_num < line:
                return  # the reader cannot get past it
            continue
        if reader.line_num % 1000 == 0:
            bar.update(binary.tell() - position)
            position = binary.tell()
        if None in row:
            yield line, RowError(f"has {len(row[None])} more field(s) than the header")
        else:
            yield line, _from_csv(row)
    bar.update(binary.tell() - position)


def _read_jsonl(binary: BinaryIO, bar: Any) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    for line, data in enumerate(binary, start=1):
        bar.update(len(data))
        if line == 1 and data.startswith(codecs.BOM_UTF8):
            data = data[len(codecs.BOM_UTF8) :]
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield (
                line,
                RowError(f"is not UTF-8 text ({exc.reason} at byte {exc.start + 1} of the line)"),
            )
            continue
        if not text.strip():
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            yield line, RowError(f"is not valid JSON ({exc.msg} at column {exc.colno})")
            continue
        except RecursionError:
            yield line, RowError("is nested too deeply to read")
            continue
        except ValueError as exc:  # e.g. an integer of more digits than Python converts
            yield line, RowError(f"is not valid JSON ({exc})")
            continue
        if isinstance(value, dict):
            yield line, value
        else:
            yield line, RowError(f"is a JSON {type(value).__name__}, not an object")


# --- Validating


def parse_row(raw: dict[str, Any] | RowError, *, default_kind: str) -> dict[str, Any]:
    """Turn one CSV or JSON row into CatalogItem field values; raise RowError for a bad row."""
    if isinstance(raw, RowError):
        raise raw
    row = dict(raw)
    fields: dict[str, Any] = {}
    item_kind = _text(row.get("kind")).lower() or default_kind
    if item_kind not in KINDS:
        raise RowError(f"kind {item_kind!r} is neither movie nor series")
    fields["kind"] = item_kind
    fields["tmdb_id"] = _tmdb_id(row.get("tmdb_id", row.get("id")))
    if not _text(row.get("title")):
        row["title"] = row.get("original_title")
    if not _text(row.get("title")):
        raise RowError("has no title")
    for name in TEXT_FIELDS:
        if name in row:
            fields[name] = _fit(name, _text(row[name]))
    for name in LIST_FIELDS:
        if name in row:
            fields[name] = _list(name, row[name])
    for name in INT_FIELDS:
        if name in row:
            fields[name] = _int(name, row[name])
    for name in FLOAT_FIELDS:
        if name in row:
            fields[name] = _float(name, row[name])
    if "year" in row or "release_date" in row:
        fields["year"] = _year(row.get("year"), row.get("release_date"))
    people = row.get("director") or row.get("creators")
    if "director" in row or "creators" in row:
        fields["director"] = _people(people)
    return fields


def _from_csv(row: dict[str, Any]) -> dict[str, Any]:
    """Map TMDb export columns onto field names; columns the model lacks (budget, …) are dropped."""
    mapped = {name: value for name, value in row.items() if name in _CSV_COLUMNS}
    if "year" not in mapped and "release_year" in row:
        mapped["year"] = row["release_year"]
    if "id" in row and "tmdb_id" not in row:
        mapped["tmdb_id"] = row["id"]
    if mapped.get("runtime") in ("0", 0):
        mapped["runtime"] = ""  # TMDb writes 0 for an unknown runtime
    return mapped


_CSV_COLUMNS = {
    "kind", "tmdb_id", "year", "release_date", "director", "creators",
    *TEXT_FIELDS, *LIST_FIELDS, *INT_FIELDS, *FLOAT_FIELDS,
}  # fmt: skip


def _text(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise RowError(f"has {type(value).__name__} where text was expected")
    text = str(value).strip()
    if "\x00" in text:
        raise RowError("contains a NUL character")
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        # A lone surrogate: from a JSON escape such as \ud800, or a byte that is not UTF-8.
        raise RowError(
            f"has text that is not valid Unicode ({exc.object[exc.start]!a} at character {exc.start + 1})"
        ) from None
    return _repair_mojibake(text)


def _repair_mojibake(text: str) -> str:
    """Undo UTF-8 that was decoded as Latin-1 or Windows-1252 once ("LÃ©a" -> "Léa").

    The public TMDb export has thousands of such names and overviews. Real accented text almost
    never re-encodes to valid UTF-8, so a failed round trip means the text was right already.
    """
    for encoding in ("cp1252", "latin-1"):
        try:
            return text.encode(encoding).decode("utf-8")
        except UnicodeError:
            continue
    return text


@cache
def _max_length(name: str) -> int:
    """The column's max_length (of each element for a list); 0 for unlimited text."""
    model_field = CatalogItem._meta.get_field(name)
    base = getattr(model_field, "base_field", model_field)
    return int(getattr(base, "max_length", None) or 0)


def _fit(name: str, text: str) -> str:
    limit = _max_length(name)
    if limit and len(text) > limit:
        raise RowError(f"{name} is {len(text)} characters long; at most {limit} fit")
    return text


def _tmdb_id(value: Any) -> int:
    text = _text(value)
    if not text:
        raise RowError("has no TMDB id")
    if not text.isdigit() or not 0 < int(text) <= MAX_INT:
        raise RowError(f"TMDB id {text!r} is not a positive whole number")
    return int(text)


def _list(name: str, value: Any) -> list[str]:
    if isinstance(value, list):
        parts = [_text(part) for part in value]
    else:
        parts = [part.strip() for part in _text(value).split("|")]
    parts = [part for part in parts if part]
    for part in parts:
        _fit(name, part)
    return parts


def _people(value: Any) -> str:
    """Director of a film or creators of a series, as one "A, B" string.

    An anthology can credit twenty directors; rather than lose the film, the list is cut to the
    names that fit and ends with how many were left out. One name that alone is too long is an error.
    """
    names = _list("director", value)
    limit = _max_length("director")
    joined = ", ".join(names)
    if len(joined) <= limit:
        return joined
    if len(names) == 1:
        raise RowError(f"director is {len(joined)} characters long; at most {limit} fit")
    for keep in range(len(names) - 1, 0, -1):
        shortened = f"{', '.join(names[:keep])} and {len(names) - keep} others"
        if len(shortened) <= limit:
            return shortened
    raise RowError(f"director is {len(joined)} characters long; at most {limit} fit")


def _number(name: str, value: Any) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise RowError(f"{name} {value!r} is not a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise RowError(f"{name} {value!r} is not a number") from None
    if not math.isfinite(number) or number < 0:
        raise RowError(f"{name} {value!r} is not a number of zero or more")
    return number


def _int(name: str, value: Any) -> int | None:
    number = _number(name, value)
    if number is None:
        return None
    if number != int(number) or number > MAX_INT:
        raise RowError(f"{name} {value!r} is not a whole number")
    return int(number)


def _float(name: str, value: Any) -> float | None:
    return _number(name, value)


def _year(year: Any, release_date: Any) -> int | None:
    text = _text(year)
    if text:
        if not text.isdigit() or not 1870 <= int(text) <= date.today().year + 10:
            raise RowError(f"year {text!r} is not a year")
        return int(text)
    released = _text(release_date)
    if not released:
        return None
    return _year_of_date(released)


def _year_of_date(text: str) -> int:
    """The year of an ISO date (2015-06-09) or of the export's US date (6/9/15, 6/9/2015)."""
    if "-" in text:
        head = text.split("-")[0]
    elif "/" in text and text.count("/") == 2:
        head = text.rsplit("/", 1)[1]
    else:
        raise RowError(f"release date {text!r} is not a date")
    if not head.isdigit() or len(head) not in (2, 4):
        raise RowError(f"release date {text!r} is not a date")
    year = int(head)
    if len(head) == 2:
        # Two-digit years: anything later than a few years from now belongs to the last century.
        this_year = date.today().year
        year += 2000 if 2000 + year <= this_year + 5 else 1900
    if not 1870 <= year <= date.today().year + 10:
        raise RowError(f"release date {text!r} is not a plausible date")
    return year
