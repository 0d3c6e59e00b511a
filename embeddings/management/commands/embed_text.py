"""`python manage.py embed_text "TEXT" [--model KEY] [--query]`: embed one text with a provider,
to check it from a shell. Prints the model key, the dimension and the first values, or the named
error with a non-zero exit."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from embeddings.models import EmbeddingSettings
from embeddings.providers import EmbeddingError, get_provider
from embeddings.registry import UnknownModel
from reclio_admin.commands import DatabaseCommand


class Command(DatabaseCommand):
    help = "Embed one text with the active model (or --model KEY) and show the start of the vector."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("text")
        parser.add_argument(
            "--model", default="", help="a model key, e.g. openai:text-embedding-3-small"
        )
        parser.add_argument("--query", action="store_true", help="embed as a search query")

    def handle(self, *args: Any, **options: Any) -> None:
        key = options["model"] or EmbeddingSettings.load().active_key
        try:
            provider = get_provider(key)
            (vector,) = provider.embed([options["text"]], query=options["query"])
        except (EmbeddingError, UnknownModel) as error:
            raise CommandError(f"{key}: {error}") from None
        head = ", ".join(f"{value:.4f}" for value in vector[:8])
        self.stdout.write(f"model       {provider.key}")
        self.stdout.write(f"dimensions  {len(vector)}")
        self.stdout.write(
            f"tokens      {provider.count_tokens(options['text'])} ({provider.tokenizer_key})"
        )
        self.stdout.write(f"first       [{head}, …]")
