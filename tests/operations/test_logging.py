"""LOG_FORMAT: readable lines by default, one JSON object per line for a log collector."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from django.conf import settings
from pythonjsonlogger.json import JsonFormatter

from embeddings import jobs, tasks
from embeddings.models import EmbeddingJob, EmbeddingSettings
from embeddings.tasks import health_check
from reclio_admin.logs import ContextFilter, gunicorn_logging_config, logging_config
from tests.conftest import make_item
from tests.jobs.conftest import LOCAL_MODEL

LOG_A_LINE = (
    "import django, logging; django.setup(); "
    "logging.getLogger('embeddings.jobs').warning('Job #%s stalled', 7, "
    "extra={'event': 'job_stalled', 'job_id': 7})"
)


def run_django(log_format: str | None) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        # A placeholder database: setting up Django must not need one to log.
        "DATABASE_URL": "postgres://logcheck@localhost/logcheck",
        "SECRET_KEY": "logcheck",
        "DJANGO_SETTINGS_MODULE": "reclio_admin.settings",
    }
    env.pop("LOG_FORMAT", None)
    if log_format is not None:
        env["LOG_FORMAT"] = log_format
    return subprocess.run(
        [sys.executable, "-c", LOG_A_LINE],
        cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_the_default_log_is_one_readable_line() -> None:
    result = run_django(None)
    assert result.returncode == 0, result.stderr
    [line] = [line for line in result.stderr.splitlines() if "embeddings.jobs" in line]
    assert line.endswith(" WARNING embeddings.jobs: Job #7 stalled")
    assert not line.startswith("{")


def test_log_format_json_writes_one_object_per_line_with_the_job_and_the_event() -> None:
    result = run_django("json")
    assert result.returncode == 0, result.stderr
    # Every line is an object, whichever library logged it (the start-up lines too).
    records = [json.loads(line) for line in result.stderr.splitlines()]
    [record] = [r for r in records if r["logger"] == "embeddings.jobs"]
    assert record["message"] == "Job #7 stalled"
    assert record["level"] == "WARNING" and record["logger"] == "embeddings.jobs"
    assert record["event"] == "job_stalled" and record["job_id"] == 7
    assert record["time"].startswith("20")


def test_an_unknown_log_format_stops_the_start_with_the_variables_name() -> None:
    result = run_django("xml")
    assert result.returncode != 0
    assert "LOG_FORMAT must be one of text, json, not 'xml'" in result.stderr


@pytest.mark.django_db
@pytest.mark.slow
def test_every_line_a_job_logs_carries_its_id_and_model_key(
    caplog: pytest.LogCaptureFixture,
) -> None:
    for i in range(3):
        make_item(title=f"Film {i}", overview="A lighthouse keeper finds a map.")
    job = jobs.create_job("movie", LOCAL_MODEL, "all")
    caplog.handler.addFilter(ContextFilter())
    options = logging_config("json", "INFO")["formatters"]["json"]
    caplog.handler.setFormatter(JsonFormatter(**{k: v for k, v in options.items() if k != "()"}))

    with caplog.at_level(logging.INFO, logger="embeddings"):
        assert tasks.run_job(job.pk) == EmbeddingJob.Status.COMPLETED

    lines = [json.loads(line) for line in caplog.text.splitlines()]
    ended = [line for line in lines if line.get("event") == "job_completed"]
    assert ended, caplog.text
    assert ended[0]["job_id"] == job.pk and ended[0]["model_key"] == LOCAL_MODEL
    assert "3 done" in ended[0]["message"]
    assert all(
        line["job_id"] == job.pk
        for line in lines
        if line["logger"] in ("embeddings.jobs", "embeddings.tasks")
    )


@pytest.mark.django_db
def test_a_failed_health_check_is_logged_as_its_event_with_the_model(
    caplog: pytest.LogCaptureFixture,
) -> None:
    EmbeddingSettings.objects.update_or_create(pk=1, defaults={"active_model_key": "none:disabled"})
    with caplog.at_level(logging.WARNING, logger="embeddings"):
        check = health_check()

    assert not check.ok
    [record] = [r for r in caplog.records if getattr(r, "event", "") == "health_check_failed"]
    assert record.model_key == "none:disabled"  # type: ignore[attr-defined]
    assert check.error in record.getMessage()


def test_with_log_format_json_the_web_servers_own_lines_are_objects_too(tmp_path: Path) -> None:
    config = tmp_path / "gunicorn-logging.json"
    config.write_text(json.dumps(gunicorn_logging_config("json", "INFO")))
    env = {**os.environ, "DATABASE_URL": "postgres://logcheck@localhost/logcheck",
           "SECRET_KEY": "logcheck", "LOG_FORMAT": "json"}  # fmt: skip
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "reclio_admin.wsgi", "--bind", "127.0.0.1:0",
         "--workers", "1", "--access-logfile", "-", "--log-config-json", str(config)],
        cwd=settings.BASE_DIR, env=env, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    lines: list[str] = []
    try:
        assert server.stderr is not None
        for line in server.stderr:
            lines.append(line)
            if "Booting worker" in line:
                break
        [listening] = [json.loads(line) for line in lines if "Listening at" in line]
        url = listening["message"].split("Listening at: ")[1].split()[0]
        assert requests.get(f"{url}/metrics", timeout=60).status_code == 401
        for line in server.stderr:
            lines.append(line)
            if "gunicorn.access" in line:
                break
    finally:
        server.terminate()
        server.wait(timeout=30)
    records = [json.loads(line) for line in lines]
    [access] = [r for r in records if r["logger"] == "gunicorn.access"]
    assert '"GET /metrics HTTP/1.1" 401' in access["message"]
