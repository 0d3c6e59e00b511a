"""COPY catalog items into a table, in COPY's text format."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from django.db import connection

from catalog.models import CatalogItem
from embeddings.text import text_hash


def copy_items(table: str, items: list[CatalogItem], *, with_id: bool) -> None:
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
