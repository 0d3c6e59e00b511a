"""Loading the settings starts nothing and writes nothing; a bad value stops the start with a
sentence naming the variable."""

from __future__ import annotations

import runpy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from embeddings.checks import check_embedding_model
from reclio_admin import datadir

SETTINGS = str(Path(settings.BASE_DIR) / "reclio_admin" / "settings.py")


def _load_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **env: str) -> dict[str, Any]:
    monkeypatch.setenv("RECLIO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(SETTINGS)


def test_loading_the_settings_creates_no_folder_and_starts_no_database(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    loaded = _load_settings(monkeypatch, tmp_path)
    assert loaded["DATA_DIR"] == (tmp_path / "data").resolve()
    assert not (tmp_path / "data").exists()
    assert loaded["DATABASES"]["default"]["ENGINE"] == "reclio_admin.embedded_postgres"
    assert loaded["DATABASES"]["default"]["HOST"] == ""
    assert len(loaded["SECRET_KEY"]) > 40


def test_the_entry_points_prepare_the_data_folder_and_one_key_for_every_process(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("SECRET_KEY", raising=False)
    folder = datadir.prepare(tmp_path / "data")
    key = (folder / "secret-key").read_text()
    assert (folder / "secret-key").stat().st_mode & 0o777 == 0o600
    assert datadir.prepare(folder) == folder
    assert (folder / "secret-key").read_text() == key
    assert _load_settings(monkeypatch, tmp_path)["SECRET_KEY"] == key
    assert (folder / "staticfiles").is_dir()


def test_a_set_secret_key_writes_no_key_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SECRET_KEY", "from-the-environment")
    folder = datadir.prepare(tmp_path / "data")
    assert not (folder / "secret-key").exists()
    assert _load_settings(monkeypatch, tmp_path)["SECRET_KEY"] == "from-the-environment"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("LOG_LEVEL", "loud", "LOG_LEVEL must be one of debug, info, warning, error, critical"),
        ("HNSW_BUILD_MEMORY", "1GB'; DROP TABLE x; --", "HNSW_BUILD_MEMORY must be a PostgreSQL"),
        ("HNSW_BUILD_MEMORY", "512mb", "HNSW_BUILD_MEMORY must be a PostgreSQL memory size"),
        ("HNSW_BUILD_MEMORY", "10kB", "HNSW_BUILD_MEMORY must be at least 1024kB"),
        (
            "EMBEDDED_DB_SHARED_BUFFERS",
            "4GB'\nfsync = 'off",
            "EMBEDDED_DB_SHARED_BUFFERS must be a PostgreSQL memory size",
        ),
        ("HNSW_EF_SEARCH", "1536:0", "HNSW_EF_SEARCH must give values from 10 to 1000"),
        ("TIME_ZONE", "Mars/Olympus", "TIME_ZONE must be a time zone name"),
        ("OLLAMA_HOST", "http://", "OLLAMA_HOST must be an http:// or https:// URL"),
        ("OPENAI_BASE_URL", "ftp://models.example", "OPENAI_BASE_URL must be an http://"),
        ("GOOGLE_BASE_URL", "not a url", "GOOGLE_BASE_URL must be an http://"),
        ("EMBEDDING_PROVIDER", "mistral", "EMBEDDING_PROVIDER must be one of auto, openai"),
        ("Q_WORKERS", "many", "Q_WORKERS must be a whole number"),
    ],
)
def test_a_malformed_value_stops_the_start_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, variable: str, value: str, message: str
) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        _load_settings(monkeypatch, tmp_path, **{variable: value})


def test_a_url_with_a_password_is_refused_without_echoing_the_password(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with pytest.raises(ImproperlyConfigured, match="OPENAI_BASE_URL") as caught:
        _load_settings(monkeypatch, tmp_path, OPENAI_BASE_URL="gopher://user:hunter2@host")
    assert "hunter2" not in str(caught.value)


def test_well_formed_values_are_read_in_the_form_the_product_uses(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    loaded = _load_settings(
        monkeypatch,
        tmp_path,
        LOG_LEVEL="warning",
        HNSW_BUILD_MEMORY="2GB",
        EMBEDDED_DB_SHARED_BUFFERS="1GB",
        OLLAMA_HOST="localhost:11434",
        TIME_ZONE="Europe/Paris",
    )
    assert loaded["LOGGING"]["root"]["level"] == "WARNING"
    assert loaded["HNSW_BUILD_MEMORY"] == "2GB"
    assert loaded["EMBEDDED_DB_SETTINGS"] == {"shared_buffers": "1GB"}
    assert loaded["OLLAMA_HOST"] == "http://localhost:11434"
    assert loaded["TIME_ZONE"] == "Europe/Paris"


def test_an_unknown_embedding_model_fails_the_system_check_naming_the_variable() -> None:
    with override_settings(EMBEDDING_MODEL="openai:nope"):
        errors = check_embedding_model()
        with pytest.raises(SystemCheckError, match="EMBEDDING_MODEL='openai:nope'"):
            call_command("check")
    assert [error.id for error in errors] == ["embeddings.E001"]
    assert "unknown embedding model 'openai:nope'" in errors[0].msg
    with override_settings(EMBEDDING_MODEL="openai:text-embedding-3-large@1024"):
        assert check_embedding_model() == []
    with override_settings(EMBEDDING_MODEL="openai:text-embedding-3-large@1000"):
        assert "cannot be reduced" in check_embedding_model()[0].msg


def test_manage_py_refuses_to_start_with_a_bad_value(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "RECLIO_DATA_DIR": str(tmp_path), "LOG_LEVEL": "loud"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "LOG_LEVEL must be one of debug, info, warning, error, critical, not 'loud'" in (
        result.stderr
    )
    assert not (tmp_path / "pgdata").exists()
