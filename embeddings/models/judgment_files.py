"""Judgments as a CSV file, `query_tmdb_id,relevant_tmdb_id,grade[,kind]`: read a row at a time
with each bad line named, and written in the same shape, so a team brings its golden set in or
takes it elsewhere. The stored judgments (`import_judgments`, `export_judgments`) and the judged
quality measure (`eval_neighbours --judgments`, which reads a file without storing it) share this
one reader.

A judgment pairs two titles of one kind (`kind` defaults to movie): 2 a great match, 1
acceptable, 0 a wrong one.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from catalog.models import CatalogItem

GRADES = (0, 1, 2)
COLUMNS = ("query_tmdb_id", "relevant_tmdb_id", "grade")
KIND_COLUMN = "kind"
DEFAULT_KIND = CatalogItem.Kind.MOVIE.value


@dataclass(frozen=True)
class Judged:
    """One graded pair: `relevant` is a `grade` match for `query` (TMDb ids of one kind)."""

    query: int
    relevant: int
    grade: int
    kind: str = DEFAULT_KIND


class JudgmentsFileError(Exception):
    """The file cannot be read as judgments at all (missing, unreadable, wrong header)."""


@dataclass(frozen=True)
class BadLine:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


def parse_judgments(path: Path) -> tuple[list[Judged], list[BadLine]]:
    """The file's good rows, and each bad line with its reason (the header is line 1)."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in COLUMNS if c not in (reader.fieldnames or ())]
            if missing:
                raise JudgmentsFileError(
                    f"{path} lacks the column{'s' if len(missing) > 1 else ''} "
                    f"{', '.join(missing)} (expected {','.join(COLUMNS)}[,kind])"
                )
            rows, bad = [], []
            for row in reader:
                parsed = _parse_row(row)
                if isinstance(parsed, str):
                    bad.append(BadLine(reader.line_num, parsed))
                else:
                    rows.append(parsed)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise JudgmentsFileError(f"cannot read {path}: {exc}") from None
    return rows, bad


def _parse_row(row: dict[str, str | None]) -> Judged | str:
    """A row as a judgment, or why it is not one."""
    values = {}
    for column in COLUMNS:
        raw = (row.get(column) or "").strip()
        if not raw.isdigit():
            return f"{column} must be a whole number, got {raw!r}" if raw else f"{column} is empty"
        values[column] = int(raw)
    if values["grade"] not in GRADES:
        return f"grade must be 0, 1 or 2, got {values['grade']}"
    if values["query_tmdb_id"] == values["relevant_tmdb_id"]:
        return f"a title cannot be judged against itself ({values['query_tmdb_id']})"
    kind = (row.get(KIND_COLUMN) or "").strip() or DEFAULT_KIND
    if kind not in CatalogItem.Kind.values:
        return f"kind must be one of {', '.join(CatalogItem.Kind.values)}, got {kind!r}"
    return Judged(values["query_tmdb_id"], values["relevant_tmdb_id"], values["grade"], kind)


def write_judgments(path: Path, judgments: Iterable[Judged]) -> int:
    """Write the judgments as the reader reads them (with the kind column); returns the rows."""
    written = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([*COLUMNS, KIND_COLUMN])
        for judged in judgments:
            writer.writerow([judged.query, judged.relevant, judged.grade, judged.kind])
            written += 1
    return written
