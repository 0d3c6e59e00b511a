"""Django's PostgreSQL backend on the embedded server (used when DATABASE_URL is unset).

The first connection a process opens starts the server, or attaches to the one another process
started, so loading the settings starts nothing: `manage.py` commands that touch the database,
the web server's workers and the test session start it on their first query.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.backends.postgresql import base

from reclio_admin import database


class DatabaseWrapper(base.DatabaseWrapper):
    def get_connection_params(self) -> dict[str, Any]:
        # The server picks its socket folder when it starts; callers that open connections of
        # their own (worker processes, COPY) read it from the settings after the first query.
        self.settings_dict["HOST"] = str(
            database.embedded_socket_dir(settings.DATA_DIR, settings.EMBEDDED_DB_SETTINGS)
        )
        return super().get_connection_params()
