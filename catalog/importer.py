"""Import a catalog file (TMDb-style CSV or JSON Lines) into CatalogItem, idempotently.

A bad row is reported with its line number and skipped; the rest of the file still imports.
Items are matched on (kind, TMDB id), so running the same file twice changes nothing.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from tqdm import tqdm

from catalog.models import CatalogItem

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
    path: str | Path, *, kind: str = "movie", progress: bool = False
) -> ImportReport:
    """Upsert every valid row of the file.

    1. Read and validate all rows; a later row with the same (kind, TMDB id) replaces an earlier one.
    2. Fetch the existing items for those keys in one query.
    3. Sort rows into new, changed and unchanged by comparing the fields the file provides.
    4. Write new and changed items with bulk_create / bulk_update in batches, in one transaction.
    """
    report = ImportReport()
    rows: dict[tuple[str, int], dict[str, Any]] = {}
    lines: dict[tuple[str, int], int] = {}
    for line, raw in _read(Path(path), progress):
        try:
            fields = parse_row(raw, default_kind=kind)
        except RowError as exc:
            report.rejected.append(Rejection(line, str(exc)))
            continue
        key = (fields["kind"], fields["tmdb_id"])
        if key in rows:
            report.superseded.append(lines[key])
        rows[key] = fields
        lines[key] = line
    for item_kind, _ in rows:
        report.kinds[item_kind] = report.kinds.get(item_kind, 0) + 1

    existing = {(item.kind, item.tmdb_id): item for item in _existing(rows)}
    to_create: list[CatalogItem] = []
    to_update: list[CatalogItem] = []
    changed_fields: set[str] = set()
    for key, fields in rows.items():
        item = existing.get(key)
        if item is None:
            to_create.append(CatalogItem(**fields))
            continue
        changed = [name for name, value in fields.items() if getattr(item, name) != value]
        if not changed:
            report.unchanged += 1
            continue
        for name in changed:
            setattr(item, name, fields[name])
        changed_fields.update(changed)
        to_update.append(item)

    _write(to_create, to_update, changed_fields, progress)
    report.created, report.updated = len(to_create), len(to_update)
    return report


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


def _write(
    to_create: list[CatalogItem],
    to_update: list[CatalogItem],
    changed_fields: set[str],
    progress: bool,
) -> None:
    # bulk_update bypasses auto_now, so the time of the change is set here.
    now = timezone.now()
    for item in to_update:
        item.updated_at = now
    update_fields = sorted(changed_fields | {"updated_at"})
    with (
        tqdm(
            total=len(to_create) + len(to_update),
            desc="Writing",
            unit=" items",
            disable=not progress,
        ) as bar,
        transaction.atomic(),
    ):
        for start in range(0, len(to_create), BATCH_SIZE):
            batch = to_create[start : start + BATCH_SIZE]
            CatalogItem.objects.bulk_create(batch)
            bar.update(len(batch))
        for start in range(0, len(to_update), BATCH_SIZE):
            batch = to_update[start : start + BATCH_SIZE]
            CatalogItem.objects.bulk_update(batch, update_fields)
            bar.update(len(batch))


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}" if number == 1 else f"{number:,} {noun}s"


# --- Reading


def _read(path: Path, progress: bool) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    if not path.is_file():
        raise CatalogFileError(f"{path}: no such file")
    file_format = FORMATS.get(path.suffix.lower())
    if file_format is None:
        raise CatalogFileError(
            f"{path}: unknown format {path.suffix or '(no extension)'!r}; use .csv, .jsonl or .ndjson"
        )
    reader = _read_csv if file_format == "csv" else _read_jsonl
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            yield from tqdm(reader(handle), desc="Reading", unit=" rows", disable=not progress)
    except UnicodeDecodeError as exc:
        raise CatalogFileError(
            f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None
    except csv.Error as exc:
        raise CatalogFileError(f"{path}: not a readable CSV file ({exc})") from None


def _read_csv(handle: Any) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    reader = csv.DictReader(handle)
    if reader.fieldnames is None:  # reads the header, so line_num counts from it
        return
    while True:
        # A quoted field may span lines: the row starts on the line after the previous row ended.
        line = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        if None in row:
            yield line, RowError(f"has {len(row[None])} more field(s) than the header")  # type: ignore[index]
        else:
            yield line, _from_csv(row)


def _read_jsonl(handle: Any) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    for line, text in enumerate(handle, start=1):
        if not text.strip():
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            yield line, RowError(f"is not valid JSON ({exc.msg} at column {exc.colno})")
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
    return _repair_mojibake(text) if not text.isascii() else text


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
