"""Shared fixtures: the four kinds of user, a logged-in client for each, and Chromium."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client

from catalog.models import CatalogItem
from embeddings.models import EMBEDDING_TABLES, Embedding384, drop_hnsw_index, ensure_hnsw_index

pytest_plugins = ["tests.fakes.fixtures", "tests.fakes.listener"]

PASSWORD = "correct-horse-battery"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def pytest_configure(config: pytest.Config) -> None:
    """The data folder, as `manage.py` prepares it; the embedded PostgreSQL starts on the first
    query of the session (the test database's creation)."""
    from django.conf import settings

    from reclio_admin import datadir

    datadir.prepare(settings.DATA_DIR)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that commits (a `transaction=True` mark, a live server) restores the
    database's migrated rows (content types, roles, permissions) on its way in, instead of
    leaving them to the flush's post-migrate handlers: those number the rows anew, and a later
    test restoring them by id would collide with them by name."""
    for item in items:
        marker = item.get_closest_marker("django_db")
        kwargs = dict(marker.kwargs) if marker is not None else {}
        names = set(getattr(item, "fixturenames", ()))
        commits = kwargs.get("transaction") or bool({"transactional_db", "live_server"} & names)
        if commits and not kwargs.get("serialized_rollback"):
            kwargs.update(transaction=True, serialized_rollback=True)
            args = marker.args if marker is not None else ()
            item.add_marker(pytest.mark.django_db(*args, **kwargs), append=False)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Stop the embedded PostgreSQL when this test session was the one that started it."""
    from django.conf import settings

    from reclio_admin import database

    if database.started_here and not os.environ.get("DATABASE_URL"):
        from django.db import connections

        connections.close_all()
        database.stop_embedded_server(settings.DATA_DIR)


def _user(username: str, group: str | None, *, staff: bool = True, superuser: bool = False) -> User:
    user = User.objects.create_user(username, f"{username}@example.com", PASSWORD)
    user.is_staff = staff
    user.is_superuser = superuser
    user.save()
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def admin_user(db: None) -> User:
    """An Embedding admin: changes settings, runs jobs, looks at everything."""
    return _user("ada", "Embedding admins")


@pytest.fixture
def staff_user(db: None) -> User:
    """Embedding staff: starts, cancels and resumes jobs."""
    return _user("sam", "Embedding staff")


@pytest.fixture
def curator_user(db: None) -> User:
    """A curator: looks at neighbours, jobs and storage, changes nothing."""
    return _user("cleo", "Curators")


@pytest.fixture
def outsider_user(db: None) -> User:
    """Staff with no role: logs into the admin but must be turned away from the dashboard."""
    return _user("otto", None)


@pytest.fixture
def superuser(db: None) -> User:
    return _user("root", None, superuser=True)


def _client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def admin_client_(admin_user: User) -> Client:
    return _client_for(admin_user)


@pytest.fixture
def staff_client(staff_user: User) -> Client:
    return _client_for(staff_user)


@pytest.fixture
def curator_client(curator_user: User) -> Client:
    return _client_for(curator_user)


@pytest.fixture
def outsider_client(outsider_user: User) -> Client:
    return _client_for(outsider_user)


@pytest.fixture
def role_clients(
    admin_user: User, staff_user: User, curator_user: User, outsider_user: User
) -> dict[str, Client]:
    """One client per role, plus an anonymous one, for permission matrices."""
    return {
        "admin": _client_for(admin_user),
        "staff": _client_for(staff_user),
        "curator": _client_for(curator_user),
        "outsider": _client_for(outsider_user),
        "anonymous": Client(),
    }


def make_item(**fields: Any) -> CatalogItem:
    """A catalog item with sensible defaults; pass only what the test is about."""
    defaults: dict[str, Any] = {
        "kind": "movie",
        "tmdb_id": CatalogItem.objects.count() + 1000,
        "title": "Untitled",
        "year": 2000,
        "overview": "A film.",
        "genres": ["Drama"],
    }
    defaults.update(fields)
    return CatalogItem.objects.create(**defaults)


def migrate_to_just_before(name_suffix: str) -> list[tuple[str, str]]:
    """Take the test database back to the state before the migration whose name ends with
    `name_suffix`; returns the latest migrations, to go forward to (a transaction=True test)."""
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    [mine] = [key for key in executor.loader.graph.nodes if key[1].endswith(name_suffix)]
    executor.migrate([parent.key for parent in executor.loader.graph.node_map[mine].parents])
    return latest


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """Debian's Chromium driven by playwright (never a downloaded browser)."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does this)")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from django.db import connections
    from playwright.sync_api import sync_playwright

    # Playwright runs an event loop in this thread, and Django then hands this thread fresh
    # connection objects: the migrated rows that tests committing to the database restore
    # (serialized_rollback) must travel to them, or those tests start with no roles.
    serialized = {
        alias: connections[alias]._test_serialized_contents  # type: ignore[attr-defined]
        for alias in connections
        if hasattr(connections[alias], "_test_serialized_contents")
    }
    with sync_playwright() as playwright:
        for alias, contents in serialized.items():
            connections[alias]._test_serialized_contents = contents  # type: ignore[attr-defined]
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def browser_login(chromium: Any, live_server: Any) -> Any:
    """Log a user into the admin in a fresh browser page; returns a function user -> page."""
    contexts = []

    def login(user: User) -> Any:
        context = chromium.new_context()
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{live_server.url}/admin/login/")
        page.fill("#id_username", user.username)
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_url(f"{live_server.url}/admin/")
        return page

    yield login
    for context in contexts:
        context.close()


@pytest.fixture
def exact_neighbours(db: None) -> None:
    """For tests about what a page or a score does with neighbours, not about the graph. An HNSW
    walk over a few rows (with repeated points, or beside rows earlier tests rolled back, which
    stay in the graph) now and then returns a farther row among the first k. Without the index
    (dropped inside the test's transaction, so only this test sees it gone; never in a
    transaction=True test) every top k is exact."""
    drop_hnsw_index(Embedding384)


@pytest.fixture
def fresh_graphs(db: None) -> None:
    """HNSW indexes rebuilt before the test writes its rows, so its walks see only its own: rows
    that earlier tests inserted and rolled back stay in a graph until a vacuum, and can crowd a
    small test's walk out of its few live rows. Inside the test's transaction, like its rows."""
    for table in EMBEDDING_TABLES.values():
        drop_hnsw_index(table)
        ensure_hnsw_index(table)
