"""`python manage.py run`: the whole dashboard in one command (what `make run` calls).

1. Migrate: its first query starts the embedded PostgreSQL, or attaches to the running one.
2. Load the demo catalog when the catalog is empty, make sure the `admin` login exists.
3. Prepare the embeddings side: the active model, the schedules, the first-run jobs.
4. Start one django-q2 worker and the web server, print where to log in.
5. On Ctrl-C or SIGTERM stop both, then the embedded server, and leave nothing behind.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from catalog.models import CatalogItem
from embeddings import startup
from reclio_admin import database
from reclio_admin.env import env_int, env_str
from reclio_admin.logs import gunicorn_logging_config

DEMO_CATALOG = Path(settings.BASE_DIR) / "catalog" / "data" / "demo_catalog.jsonl"


class Command(BaseCommand):
    help = "Run the dashboard: database, worker and web server, until Ctrl-C."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--no-worker", action="store_true", help="Do not start a django-q2 worker."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        port = env_int("PORT", 8000, minimum=1, maximum=65535)
        host = env_str("HOST", "127.0.0.1")
        call_command("migrate", interactive=False, verbosity=0)
        if not CatalogItem.objects.exists():
            self.stdout.write("Loading the demo catalog…")
            call_command("import_catalog", str(DEMO_CATALOG), progress=False, stdout=self.stdout)
        password = self._ensure_admin()
        self._prepare_embeddings()

        children = [self._spawn_web(host, port)]
        if not options["no_worker"]:
            children.insert(0, self._spawn([sys.executable, "manage.py", "qcluster"]))
        self._banner(host, port, password, time.monotonic() - started)
        code = self._wait(children)
        self._shutdown(children)
        if code:
            raise CommandError(f"a child process exited with status {code}; everything was stopped")

    def _ensure_admin(self) -> str | None:
        """Return the password to print: only when it was generated just now."""
        user_model = get_user_model()
        wanted = env_str("RECLIO_ADMIN_PASSWORD")
        user = user_model.objects.filter(username="admin").first()
        password_file = settings.DATA_DIR / "admin-password"
        if user is None:
            password = wanted or secrets.token_urlsafe(12)
            user_model.objects.create_superuser("admin", "", password)
            if not wanted:
                password_file.write_text(password + "\n")
                password_file.chmod(0o600)
                return password
        elif wanted and not user.check_password(wanted):
            user.set_password(wanted)
            user.save(update_fields=["password"])
        return None

    def _prepare_embeddings(self) -> None:
        for line in startup.prepare():
            self.stdout.write(line)

    def _spawn(self, argv: list[str]) -> subprocess.Popen[bytes]:
        # A session of its own, so the shutdown order is ours and not the terminal's.
        return subprocess.Popen(argv, cwd=settings.BASE_DIR, start_new_session=True)

    def _spawn_web(self, host: str, port: int) -> subprocess.Popen[bytes]:
        workers = str(env_int("WEB_WORKERS", 2, minimum=1, maximum=64))
        # The web server's own lines in the same format as the rest (LOG_FORMAT).
        log_config = settings.DATA_DIR / "gunicorn-logging.json"
        log_config.write_text(
            json.dumps(gunicorn_logging_config(settings.LOG_FORMAT, settings.LOG_LEVEL))
        )
        return self._spawn(
            [
                sys.executable, "-m", "gunicorn", "reclio_admin.wsgi",
                "--bind", f"{host}:{port}", "--workers", workers, "--threads", "4",
                "--graceful-timeout", "5", "--timeout", "120", "--access-logfile", "-",
                "--log-config-json", str(log_config),
            ]
        )  # fmt: skip

    def _banner(self, host: str, port: int, password: str | None, took: float) -> None:
        url = f"http://{host}:{port}/admin/"
        lines = [
            "",
            f"Reclio Admin is running at {url}  (ready in {took:.1f} s)",
            "  user:      admin",
        ]
        if password:
            lines.append(
                f"  password:  {password}   (shown once; kept in {settings.DATA_DIR / 'admin-password'})"
            )
        elif env_str("RECLIO_ADMIN_PASSWORD"):
            lines.append("  password:  the value of RECLIO_ADMIN_PASSWORD")
        else:
            lines.append(f"  password:  in {settings.DATA_DIR / 'admin-password'}")
        lines += ["Press Ctrl-C to stop.", ""]
        self.stdout.write("\n".join(lines))

    def _wait(self, children: list[subprocess.Popen[bytes]]) -> int:
        stop = {"signal": 0}

        def _on_signal(signum: int, frame: Any) -> None:
            stop["signal"] = signum

        signal.signal(signal.SIGINT, _on_signal)
        signal.signal(signal.SIGTERM, _on_signal)
        while not stop["signal"]:
            for child in children:
                if child.poll() is not None:
                    return child.returncode or 1
            time.sleep(0.3)
        self.stdout.write("\nStopping…")
        return 0

    def _shutdown(self, children: list[subprocess.Popen[bytes]]) -> None:
        # Each leader stops its own processes (gunicorn its workers, qcluster its pool); signalling
        # the whole group at once makes qcluster's orderly stop race with its children.
        for child in children:
            if child.poll() is None:
                child.terminate()
        deadline = time.monotonic() + 15
        for child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
        if not os.environ.get("DATABASE_URL"):
            from django.db import connections

            connections.close_all()
            database.stop_embedded_server(settings.DATA_DIR)
        self.stdout.write("Stopped.")
