"""The base of every management command that reads or writes the database."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor

_migrated = False  # once found migrated, a process does not ask again


class DatabaseCommand(BaseCommand):
    """On a database not yet set up, stops with what to run instead of a traceback from the
    first query that meets a missing table (Django itself only prints a notice)."""

    requires_migrations_checks = True

    def check_migrations(self) -> None:
        global _migrated
        if _migrated:
            return
        executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        if plan:
            raise CommandError(
                f"the database is not set up ({len(plan)} migration(s) not applied): run "
                "`.venv/bin/python manage.py migrate` first (`make run` does it too)"
            )
        _migrated = True
