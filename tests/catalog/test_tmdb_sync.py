"""The TMDb content sync, against a loopback TMDb: what it changes in the catalog, what it
reports, and what it leaves alone."""

from __future__ import annotations

import logging
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from catalog.models import CatalogItem, SyncEntry, SyncJob
from catalog.tmdb.control import today
from embeddings.jobs.stale import needing_work
from embeddings.models import Embedding384
from tests.conftest import make_item
from tests.fakes.tmdb_server import FakeTMDb, movie, series

pytestmark = pytest.mark.django_db

MODEL = "local:all-MiniLM-L6-v2"


def sync(*args: str) -> str:
    out = StringIO()
    call_command("sync_catalog", "--source", "tmdb", "--no-progress", *args, stdout=out)
    return out.getvalue()


def embedded(item: CatalogItem) -> CatalogItem:
    """The item with a vector stored for its current text, as a completed job leaves it."""
    Embedding384.objects.upsert(MODEL, [(item.pk, item.text_hash)], [[0.1] * 384])
    return item


def stale() -> list[str]:
    items = needing_work(CatalogItem.objects.all(), Embedding384, MODEL, "stale")
    return sorted(items.values_list("title", flat=True))


def held(fake: FakeTMDb, body: dict[str, Any], **fields: Any) -> CatalogItem:
    """A catalog item that matches what TMDb serves for it, embedded, and TMDb's title
    changed today (its details as in `body`)."""
    kind = "series" if "name" in body else "movie"
    fake.add(body, changed=today())
    return embedded(make_item(kind=kind, tmdb_id=body["id"], **fields))


def test_a_changed_overview_updates_the_item_and_makes_it_stale(fake_tmdb: FakeTMDb) -> None:
    inception = held(
        fake_tmdb,
        movie(27205, title="Inception", overview="A thief who steals corporate secrets."),
        title="Inception",
        overview="A thief.",
    )
    assert stale() == []

    out = sync()

    inception.refresh_from_db()
    assert inception.overview == "A thief who steals corporate secrets."
    assert inception.cast == [f"Actor {n}" for n in range(5)]  # the top five of the billing
    assert inception.director == "Some Director"
    assert inception.keywords == ["dream"]
    assert inception.year == 2010
    assert stale() == ["Inception"]
    assert "1 updated" in out


def test_a_series_gets_its_creators_seasons_and_keywords(fake_tmdb: FakeTMDb) -> None:
    show = held(fake_tmdb, series(1396, name="Breaking Bad", number_of_seasons=5), title="BB")

    sync()

    show.refresh_from_db()
    assert (show.title, show.director, show.seasons, show.keywords, show.year) == (
        "Breaking Bad", "Some Creator", 5, ["family"], 2015,
    )  # fmt: skip


def test_only_titles_the_catalog_holds_are_fetched(fake_tmdb: FakeTMDb) -> None:
    held(fake_tmdb, movie(1, title="Kept"), title="Kept")
    fake_tmdb.add(movie(2, title="Not ours"), changed=today())

    out = sync()

    detail_paths = [r.path for r in fake_tmdb.requests if "changes" not in r.path]
    assert detail_paths == ["/3/movie/1"]
    assert not CatalogItem.objects.filter(tmdb_id=2).exists()
    assert "of 1;" in out


def test_a_new_title_from_a_chosen_chart_is_added(fake_tmdb: FakeTMDb) -> None:
    held(fake_tmdb, movie(10, title="Already here"), title="Already here")
    fake_tmdb.add(movie(20, title="New and popular", overview="Fresh."))
    fake_tmdb.charts[("movie", "popular")] = [10, 20]

    out = sync("--chart", "movie:popular")

    added = CatalogItem.objects.get(kind="movie", tmdb_id=20)
    assert (added.title, added.overview, added.year) == ("New and popular", "Fresh.", 2010)
    assert added.text_hash  # hashed like any write, so the next stale job embeds it
    assert "1 added" in out
    assert CatalogItem.objects.count() == 2


def test_a_title_tmdb_answers_404_for_is_reported_and_kept(fake_tmdb: FakeTMDb) -> None:
    gone = make_item(tmdb_id=404404, title="Withdrawn film")
    fake_tmdb.changes[("movie", 404404)] = today()  # listed as changed, but deleted since

    out = sync()

    assert CatalogItem.objects.filter(pk=gone.pk, title="Withdrawn film").exists()
    assert "1 not on TMDb (kept)" in out
    assert "movie 404404 (Withdrawn film): not on TMDb any more, TMDb answered 404" in out
    assert SyncEntry.objects.get(tmdb_id=404404).outcome == "missing"


def test_a_malformed_title_is_skipped_by_name_and_the_rest_are_written(
    fake_tmdb: FakeTMDb,
) -> None:
    held(fake_tmdb, movie(1, genres="Drama"), title="Bad genres")
    held(fake_tmdb, movie(2, title="", original_title=""), title="No title")
    broken = held(fake_tmdb, movie(3), title="Not JSON")
    fake_tmdb.raw[("movie", 3)] = b'{"id": 3, "title": "Cut o'
    good = held(fake_tmdb, movie(4, overview="Still written."), title="Good")

    out = sync()

    assert (
        "movie 1 (Bad genres): skipped, malformed answer: genres is a JSON str, not a list" in out
    )
    assert "movie 2 (No title): skipped, malformed answer: has no title" in out
    assert (
        "movie 3 (Not JSON): skipped, malformed answer: TMDb sent an answer that is not valid JSON"
        in out
    )
    assert "1 updated" in out and "3 skipped" in out
    good.refresh_from_db()
    broken.refresh_from_db()
    assert good.overview == "Still written."
    assert broken.title == "Not JSON"


def test_a_second_sync_with_nothing_new_changes_nothing(fake_tmdb: FakeTMDb) -> None:
    item = held(fake_tmdb, movie(5, overview="Changed once."), title="Film 5")
    sync()
    item.refresh_from_db()
    embedded(item)
    written = (item.updated_at, item.text_hash)

    out = sync()

    item.refresh_from_db()
    assert (item.updated_at, item.text_hash) == written
    assert "0 updated, 1 unchanged" in out
    assert stale() == []


def test_the_next_sync_starts_where_the_last_completed_one_ended(fake_tmdb: FakeTMDb) -> None:
    sync("--since", (today() - timedelta(days=30)).isoformat())
    sync()

    windows = [
        (r.query["start_date"][0], r.query["end_date"][0])
        for r in fake_tmdb.requests
        if r.path == "/3/movie/changes"
    ]
    first = today() - timedelta(days=30)
    assert windows == [
        (first.isoformat(), (first + timedelta(days=13)).isoformat()),
        ((first + timedelta(days=14)).isoformat(), (first + timedelta(days=27)).isoformat()),
        ((first + timedelta(days=28)).isoformat(), today().isoformat()),
        (today().isoformat(), today().isoformat()),
    ]


def test_a_read_token_is_sent_as_a_bearer_header(fake_tmdb: FakeTMDb, settings: Any) -> None:
    settings.TMDB_API_KEY = fake_tmdb.read_token
    held(fake_tmdb, movie(7, overview="Via the token."), title="Film 7")

    sync()

    assert CatalogItem.objects.get(tmdb_id=7).overview == "Via the token."
    assert all("api_key" not in r.query for r in fake_tmdb.requests)


def test_a_wrong_key_fails_the_sync_with_a_named_error(fake_tmdb: FakeTMDb, settings: Any) -> None:
    settings.TMDB_API_KEY = "f" * 32

    with pytest.raises(CommandError, match="TMDb refused the key: Invalid API key"):
        sync()

    job = SyncJob.objects.get()
    assert job.status == "failed"
    assert "f" * 32 not in job.last_error


def test_no_key_fails_the_sync_saying_where_to_set_one(fake_tmdb: FakeTMDb, settings: Any) -> None:
    settings.TMDB_API_KEY = ""

    with pytest.raises(CommandError, match="No TMDb key: set TMDB_API_KEY"):
        sync()
    assert fake_tmdb.calls == 0


def test_a_v3_key_reaches_no_log_line_or_message_when_tmdb_is_down(
    fake_tmdb: FakeTMDb, caplog: pytest.LogCaptureFixture, settings: Any
) -> None:
    held(fake_tmdb, movie(8), title="Film 8")
    fake_tmdb.stop()  # nothing answers at its address any more
    caplog.set_level(logging.DEBUG)

    with pytest.raises(CommandError) as failure:
        sync()

    assert "cannot connect to TMDb at http://127.0.0.1" in str(failure.value)
    assert fake_tmdb.api_key not in caplog.text
    assert fake_tmdb.api_key not in str(failure.value)
    assert fake_tmdb.api_key not in SyncJob.objects.get().last_error


def test_a_rate_limited_answer_is_waited_out(fake_tmdb: FakeTMDb) -> None:
    held(fake_tmdb, movie(9, overview="After the wait."), title="Film 9")
    fake_tmdb.script(["ok", "ok", "429:retry-after=0.2"])  # the two change lists, then a 429

    sync()

    assert CatalogItem.objects.get(tmdb_id=9).overview == "After the wait."
    assert fake_tmdb.calls == 4


def test_requests_stay_under_tmdbs_limit(fake_tmdb: FakeTMDb, settings: Any) -> None:
    fake_tmdb.limit_per_second = 40
    settings.TMDB_REQUESTS_PER_SECOND = 35
    for n in range(1, 81):
        held(fake_tmdb, movie(n, overview=f"New {n}."), title=f"Film {n}")

    out = sync()

    assert "80 updated" in out
    assert fake_tmdb.rate_limited == 0


def test_a_day_after_today_is_refused(fake_tmdb: FakeTMDb) -> None:
    with pytest.raises(CommandError, match="is after today"):
        sync("--since", (today() + timedelta(days=2)).isoformat())
    assert not SyncJob.objects.exists()
