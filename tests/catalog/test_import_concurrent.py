"""Two imports of the same file at the same time each report what they did: every item is stored
once, one of the two created or changed it, and no row is called rejected."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from django.db import connection, transaction

from catalog.importer import ImportReport, import_catalog
from catalog.models import CatalogItem

# Both imports must really meet: they start while the catalog is locked against writes, and it
# is unlocked once both wait on it.
pytestmark = pytest.mark.django_db(transaction=True)

FILMS = 2_500  # three batches of the importer's 1,000 rows


def _films(path: Path, overview: str) -> Path:
    rows = (
        {"tmdb_id": n, "title": f"Film {n}", "overview": f"{overview} {n}."}
        for n in range(1, FILMS + 1)
    )
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def _waiting_imports() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(DISTINCT l.pid) FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
            "WHERE NOT l.granted AND a.datname = current_database()"
        )
        (waiting,) = cursor.fetchone() or (0,)
    return int(waiting)


def _import_twice_at_once(path: Path) -> list[ImportReport]:
    reports: list[ImportReport] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            reports.append(import_catalog(path))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {CatalogItem._meta.db_table} IN SHARE ROW EXCLUSIVE MODE")
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 60
        while _waiting_imports() < 2 and not errors:
            assert time.monotonic() < deadline, "the two imports never both waited to write"
            time.sleep(0.05)
    for thread in threads:
        thread.join()
    assert errors == []
    return reports


def test_two_imports_of_one_file_at_once_create_each_item_once_and_reject_nothing(
    tmp_path: Path,
) -> None:
    first, second = _import_twice_at_once(_films(tmp_path / "films.jsonl", "A heist"))

    assert (first.rejected, second.rejected) == ([], [])
    assert first.created + second.created == FILMS
    for report in (first, second):
        assert report.created + report.updated + report.unchanged == FILMS
        assert report.updated == 0
        assert "0 rejected." in report.summary()[0]
    assert CatalogItem.objects.count() == FILMS
    assert CatalogItem.objects.values("tmdb_id").distinct().count() == FILMS


def test_two_imports_of_one_changed_file_at_once_update_each_item_once(tmp_path: Path) -> None:
    path = _films(tmp_path / "films.jsonl", "A heist")
    import_catalog(path)
    _films(path, "A robbery")

    first, second = _import_twice_at_once(path)

    assert (first.rejected, second.rejected) == ([], [])
    assert (first.created, second.created) == (0, 0)
    assert first.updated + second.updated == FILMS
    assert first.unchanged + second.unchanged == FILMS
    # Each changed synopsis is reported once, by the import that wrote it.
    assert first.text_changed + second.text_changed == FILMS
    assert CatalogItem.objects.count() == FILMS
    assert set(CatalogItem.objects.values_list("overview", flat=True)) == {
        f"A robbery {n}." for n in range(1, FILMS + 1)
    }
