"""The data folder of a local run (`.reclio/`): the embedded database, the generated secret key,
the admin password.

The settings only read it. The entry points (`manage.py`, `wsgi.py`, `asgi.py`) prepare it
before Django loads the settings, so every process of one installation shares one secret key.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY_FILE = "secret-key"


def data_dir() -> Path:
    return Path(os.environ.get("RECLIO_DATA_DIR", "").strip() or BASE_DIR / ".reclio").resolve()


def static_root(folder: Path) -> Path:
    return folder / "staticfiles"


def stored_secret_key(folder: Path) -> str:
    """The key generated for this installation, or "" before the first start."""
    path = folder / SECRET_KEY_FILE
    return path.read_text().strip() if path.is_file() else ""


def prepare(folder: Path | None = None) -> Path:
    """Create the data folder and, unless SECRET_KEY is set, the installation's key (once)."""
    folder = folder or data_dir()
    static_root(folder).mkdir(parents=True, exist_ok=True)
    path = folder / SECRET_KEY_FILE
    if not os.environ.get("SECRET_KEY", "").strip() and not path.exists():
        # Written whole under a temporary name, so a second process never reads half a key.
        partial = folder / f".{SECRET_KEY_FILE}.{os.getpid()}"
        partial.write_text(secrets.token_urlsafe(50))
        partial.chmod(0o600)
        partial.replace(path)
    return folder
