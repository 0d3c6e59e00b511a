#!/usr/bin/env python
"""Django's command-line utility for Reclio Admin."""

from __future__ import annotations

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reclio_admin.settings")
    from django.core.management import execute_from_command_line

    from reclio_admin import datadir

    # The data folder and the installation's secret key exist before the settings are read; the
    # embedded database starts on the first query of a command that needs it.
    datadir.prepare()
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
