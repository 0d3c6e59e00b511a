"""A TMDb title's details (with `credits,keywords` appended) as catalog fields.

The answer's shape is checked here, naming the part that is wrong; its values then go through
the importer's own validation (`parse_row`), so a synced title obeys the same rules (lengths,
years, numbers) as an imported one.
"""

from __future__ import annotations

from typing import Any

from catalog.importer import RowError, parse_row

TOP_CAST = 5
# The catalog fields a sync writes; what TMDb does not describe (nothing else) is left alone.
SYNCED_FIELDS = (
    "imdb_id", "title", "original_title", "year", "tagline", "overview", "genres", "keywords",
    "cast", "director", "collection", "runtime", "seasons", "popularity", "vote_average",
    "vote_count",
)  # fmt: skip


class MalformedTitle(ValueError):
    """The answer for one title cannot be used; the message says which part and why."""


def title_fields(kind: str, tmdb_id: int, body: Any) -> dict[str, Any]:
    """The catalog fields of a title of `kind` ("movie" or "series") from TMDb's answer."""
    if not isinstance(body, dict):
        raise MalformedTitle(f"the answer is a JSON {type(body).__name__}, not an object")
    if body.get("id") != tmdb_id:
        raise MalformedTitle(f"the answer is for id {body.get('id')!r}, not {tmdb_id}")
    row = _movie(body) if kind == "movie" else _series(body)
    row |= {
        "kind": kind,
        "tmdb_id": tmdb_id,
        "tagline": body.get("tagline"),
        "overview": body.get("overview"),
        "genres": _names(body, "genres"),
        "cast": _cast(body),
        "popularity": body.get("popularity"),
        "vote_average": body.get("vote_average"),
        "vote_count": body.get("vote_count"),
    }
    try:
        return parse_row(row, default_kind=kind)
    except (RowError, ValueError, TypeError) as exc:
        raise MalformedTitle(str(exc)) from None


def _movie(body: dict[str, Any]) -> dict[str, Any]:
    collection = body.get("belongs_to_collection")
    if collection is not None and not isinstance(collection, dict):
        raise MalformedTitle("belongs_to_collection is not an object")
    crew = _list(_part(body, "credits"), "crew", "credits.crew")
    return {
        "imdb_id": body.get("imdb_id"),
        "title": body.get("title"),
        "original_title": body.get("original_title"),
        "release_date": body.get("release_date"),
        "keywords": _names(_part(body, "keywords"), "keywords", "keywords.keywords"),
        "director": [
            _name(member, "credits.crew")
            for member in crew
            if isinstance(member, dict) and member.get("job") == "Director"
        ],
        "collection": (collection or {}).get("name"),
        "runtime": body.get("runtime") or None,  # TMDb says 0 for an unknown runtime
    }


def _series(body: dict[str, Any]) -> dict[str, Any]:
    runtimes = body.get("episode_run_time") or []
    if not isinstance(runtimes, list):
        raise MalformedTitle("episode_run_time is not a list")
    return {
        "title": body.get("name"),
        "original_title": body.get("original_name"),
        "release_date": body.get("first_air_date"),
        # A series' keywords come as `results`, a film's as `keywords`.
        "keywords": _names(_part(body, "keywords"), "results", "keywords.results"),
        "director": _names(body, "created_by"),
        "runtime": runtimes[0] if runtimes else None,
        "seasons": body.get("number_of_seasons"),
    }


def _part(body: dict[str, Any], name: str) -> dict[str, Any]:
    value = body.get(name)
    if value is None:
        return {}  # not appended: nothing to read, nothing wrong
    if not isinstance(value, dict):
        raise MalformedTitle(f"{name} is a JSON {type(value).__name__}, not an object")
    return value


def _list(body: dict[str, Any], name: str, label: str) -> list[Any]:
    value = body.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedTitle(f"{label} is a JSON {type(value).__name__}, not a list")
    return value


def _name(entry: Any, label: str) -> str:
    name = entry.get("name") if isinstance(entry, dict) else None
    if not isinstance(name, str):
        raise MalformedTitle(f"an entry of {label} has no name")
    return name


def _names(body: dict[str, Any], name: str, label: str = "") -> list[str]:
    label = label or name
    return [_name(entry, label) for entry in _list(body, name, label)]


def _cast(body: dict[str, Any]) -> list[str]:
    """The first TOP_CAST of the cast in TMDb's billing order."""
    cast = _list(_part(body, "credits"), "cast", "credits.cast")
    for member in cast:
        if not isinstance(member, dict):
            raise MalformedTitle("an entry of credits.cast is not an object")
    billed = sorted(cast, key=lambda member: _order(member.get("order")))
    return [_name(member, "credits.cast") for member in billed[:TOP_CAST]]


def _order(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 1_000_000
