"""`python manage.py check_provider [--model KEY]`: the probe the settings page and the hourly
health check run, from a shell. Prints the latency, or the named error (secrets masked) with a
non-zero exit; either way the result is kept as a health check on the admin index."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from embeddings.models import EmbeddingSettings
from embeddings.providers.probe import check
from reclio_admin.commands import DatabaseCommand


class Command(DatabaseCommand):
    help = "Probe the active model's provider (or --model KEY) and record a health check."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--model", default="", help="a model key, e.g. ollama:nomic-embed-text")

    def handle(self, *args: Any, **options: Any) -> None:
        key = options["model"] or EmbeddingSettings.load().active_key
        result = check(key)
        if not result.ok:
            raise CommandError(f"{key}: {result.error}")
        self.stdout.write(f"{key} answered in {result.latency_ms:.0f} ms")
