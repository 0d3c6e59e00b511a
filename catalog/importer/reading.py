"""Read a catalog file, CSV or JSON Lines, a row at a time with its line number.

A row that cannot be read arrives as a RowError in its place, so it is reported and skipped; a
file that cannot be read at all raises CatalogFileError.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from tqdm import tqdm

from catalog.importer.validating import (
    FLOAT_FIELDS,
    INT_FIELDS,
    LIST_FIELDS,
    TEXT_FIELDS,
    RowError,
)

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


class CatalogFileError(Exception):
    """The file as a whole cannot be read: missing, unknown format, not UTF-8."""


def progress_bar(path: Path, progress: bool) -> Any:
    """Progress through the file's bytes, drawn only on a terminal."""
    size = path.stat().st_size if path.is_file() else 0
    return tqdm(
        total=size, desc="Importing", unit="B", unit_scale=True, disable=not progress, smoothing=0.1
    )


def read_rows(path: Path, bar: Any) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
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
