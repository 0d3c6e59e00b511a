"""Validate one row of a catalog file into CatalogItem field values, or say why it is unusable."""

from __future__ import annotations

import math
from datetime import date
from functools import cache
from typing import Any

from catalog.models import CatalogItem

MAX_INT = 2_147_483_647  # PostgreSQL integer, the column type of the count fields
KINDS = {choice.value for choice in CatalogItem.Kind}

TEXT_FIELDS = ["imdb_id", "title", "original_title", "tagline", "overview", "collection"]
LIST_FIELDS = ["genres", "keywords", "cast"]
INT_FIELDS = ["runtime", "seasons", "vote_count"]
FLOAT_FIELDS = ["popularity", "vote_average"]


class RowError(ValueError):
    """One row is unusable; the message says why, in words a curator understands."""


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
