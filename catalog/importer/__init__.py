"""Import a catalog file (TMDb-style CSV or JSON Lines) into CatalogItem, idempotently.

A bad row is reported with its line number and skipped; the rest of the file still imports.
Items are matched on (kind, TMDB id), so running the same file twice changes nothing.
"""

from __future__ import annotations

from pathlib import Path

from catalog.importer.reading import FORMATS, CatalogFileError, progress_bar, read_rows
from catalog.importer.report import ImportReport, Rejection, TextChange
from catalog.importer.validating import (
    FLOAT_FIELDS,
    INT_FIELDS,
    KINDS,
    LIST_FIELDS,
    MAX_INT,
    TEXT_FIELDS,
    RowError,
    parse_row,
)
from catalog.importer.writing import Batch, Scratch

BATCH_SIZE = 1000

__all__ = [
    "BATCH_SIZE",
    "FLOAT_FIELDS",
    "FORMATS",
    "INT_FIELDS",
    "KINDS",
    "LIST_FIELDS",
    "MAX_INT",
    "TEXT_FIELDS",
    "CatalogFileError",
    "ImportReport",
    "Rejection",
    "RowError",
    "TextChange",
    "import_catalog",
    "parse_row",
]


def import_catalog(
    path: str | Path, *, kind: str = "movie", progress: bool = False, batch_size: int = BATCH_SIZE
) -> ImportReport:
    """Upsert every valid row of the file, streaming it: memory stays flat whatever its size.

    1. Read the file a row at a time; a row that cannot be read or validated is reported with
       its line and skipped.
    2. Every `batch_size` good rows, write the batch (`Batch.write`); a later row with the same
       (kind, TMDB id) replaces an earlier one, in the same batch or an earlier one.
    3. Each batch commits on its own, so a million-row import holds no long transaction; a row
       the database refuses is reported like any other bad row.
    """
    source = Path(path)
    report = ImportReport()
    with Scratch() as scratch, progress_bar(source, progress) as bar:
        batch = Batch(report, scratch)
        for line, raw in read_rows(source, bar):
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
