"""Django's deployment checks pass with the HTTPS settings the environment gives."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

from django.conf import settings

HTTPS = {
    "SECURE_SSL_REDIRECT": "true",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "SECURE_HSTS_PRELOAD": "true",
    "SESSION_COOKIE_SECURE": "true",
    "CSRF_COOKIE_SECURE": "true",
}


def manage(*args: str, **environ: str) -> subprocess.CompletedProcess[str]:
    """`manage.py` in a process of its own, so the settings are read from this environment."""
    env = {**os.environ, "SECRET_KEY": secrets.token_urlsafe(60), **environ}
    # Set for the browser tests of this session; a deployment never has it.
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_finds_nothing_to_warn_about_with_the_https_settings_set() -> None:
    result = manage("check", "--deploy", "--fail-level", "WARNING", **HTTPS)

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_without_them_check_deploy_names_each_missing_setting() -> None:
    result = manage("check", "--deploy")

    for warning in ("SECURE_HSTS_SECONDS", "SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE"):
        assert warning in result.stderr
    assert "CSRF_COOKIE_SECURE" in result.stderr


def test_a_malformed_https_setting_stops_the_start_naming_the_variable() -> None:
    result = manage("check", **{**HTTPS, "SESSION_COOKIE_SECURE": "sometimes"})

    assert result.returncode != 0
    assert "SESSION_COOKIE_SECURE must be true or false, not 'sometimes'" in result.stderr
    result = manage("check", **{**HTTPS, "SECURE_HSTS_SECONDS": "-1"})
    assert "SECURE_HSTS_SECONDS must be at least 0, not -1" in result.stderr
