"""Typed readers for environment variables.

A malformed value raises ImproperlyConfigured naming the variable, so a typo in a deployment
fails at start-up with a sentence instead of misbehaving later.
"""

from __future__ import annotations

import base64
import math
import os
import re
import zoneinfo

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.validators import URLValidator

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}")


def env_int(
    name: str, default: int, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}")
    if maximum is not None and value > maximum:
        raise ImproperlyConfigured(f"{name} must be at most {maximum}, not {value}")
    return value


def env_float(
    name: str, default: float, *, minimum: float | None = None, maximum: float | None = None
) -> float:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = float(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, not {raw!r}") from None
    if not math.isfinite(value):
        raise ImproperlyConfigured(f"{name} must be a finite number, not {raw!r}")
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}")
    if maximum is not None and value > maximum:
        raise ImproperlyConfigured(f"{name} must be at most {maximum}, not {value}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [part.strip() for part in raw.split(",") if part.strip()]


def env_fernet_keys(name: str, secret_key: str) -> list[str]:
    """Fernet keys, newest first, separated by commas; when the variable is unset, one key
    derived from `secret_key` (HKDF-SHA256)."""
    keys = env_list(name, []) or [_derived_fernet_key(secret_key)]
    for key in keys:
        try:
            Fernet(key)
        except ValueError:
            raise ImproperlyConfigured(
                f"{name} must be Fernet keys separated by commas (32 url-safe base64-encoded "
                "bytes each; make one with `manage.py generate_encryption_key`)"
            ) from None
    return keys


def _derived_fernet_key(secret_key: str) -> str:
    raw = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"reclio-admin field encryption"
    ).derive(secret_key.encode("utf-8"))
    return base64.urlsafe_b64encode(raw).decode("ascii")


def env_dirs(name: str) -> list[str]:
    """Absolute directory paths separated by commas, normalised (`/m/` and `/m/.` are `/m`)."""
    paths = env_list(name, [])
    for path in paths:
        if not os.path.isabs(path) or "\x00" in path:
            raise ImproperlyConfigured(f"{name} must list absolute directory paths, not {path!r}")
    return [os.path.normpath(path) for path in paths]


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env_str(name, default).lower() or default
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return value


# PostgreSQL's memory units are case-sensitive: 512MB is a size, 512mb is an error.
_MEMORY = re.compile(r"(\d+)\s*(B|kB|MB|GB|TB)?")
_MEMORY_KB = {"B": 1 / 1024, "kB": 1, "MB": 1024, "GB": 1024**2, "TB": 1024**3}


def env_memory(name: str, default: str, *, minimum_kb: int = 1024) -> str:
    """A PostgreSQL memory size (`512MB`, `2GB`, `65536` kB); safe to put into a SET statement."""
    raw = env_str(name, default) or default
    match = _MEMORY.fullmatch(raw)
    if match is None:
        raise ImproperlyConfigured(
            f"{name} must be a PostgreSQL memory size such as 512MB or 2GB, not {raw!r}"
        )
    kilobytes = int(match[1]) * _MEMORY_KB[match[2] or "kB"]
    if kilobytes < minimum_kb:
        raise ImproperlyConfigured(f"{name} must be at least {minimum_kb}kB, not {raw!r}")
    return f"{match[1]}{match[2] or 'kB'}"


def env_int_map(
    name: str, defaults: dict[int, int], *, minimum: int, maximum: int
) -> dict[int, int]:
    """Whole numbers by key, `384:80,1536:60`: the defaults with the listed keys replaced. A key
    the defaults lack, a malformed pair or a value out of range is refused."""
    values = dict(defaults)
    keys = ", ".join(map(str, defaults))
    for pair in env_list(name, []):
        key, _, value = pair.partition(":")
        try:
            number, chosen = int(key.strip()), int(value.strip())
        except ValueError:
            raise ImproperlyConfigured(
                f"{name} must be pairs such as {next(iter(defaults))}:100 separated by commas, "
                f"not {pair!r}"
            ) from None
        if number not in defaults:
            raise ImproperlyConfigured(f"{name} names {number}, which is not one of {keys}")
        if not minimum <= chosen <= maximum:
            raise ImproperlyConfigured(
                f"{name} must give values from {minimum} to {maximum}, not {chosen} for {number}"
            )
        values[number] = chosen
    return values


def with_scheme(url: str, scheme: str = "http") -> str:
    """`localhost:11434` → `http://localhost:11434`, the way Ollama's own client reads a host."""
    url = url.strip().rstrip("/")
    return url if not url or "://" in url else f"{scheme}://{url}"


def env_url(name: str, default: str = "", *, bare_host_scheme: str = "") -> str:
    """An http(s) URL, or empty when unset and no default; with `bare_host_scheme` a value without
    a scheme (`localhost:11434`) is read with that one."""
    raw = env_str(name, default) or default
    if not raw:
        return ""
    value = with_scheme(raw, bare_host_scheme) if bare_host_scheme else raw.rstrip("/")
    try:
        URLValidator(schemes=["http", "https"])(value)
    except ValidationError:
        # A password in the URL's user part stays out of the message.
        shown = re.sub(r"//[^/@]*@", "//…@", raw)
        raise ImproperlyConfigured(
            f"{name} must be an http:// or https:// URL, not {shown!r}"
        ) from None
    return value


def env_timezone(name: str, default: str) -> str:
    value = env_str(name, default) or default
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ImproperlyConfigured(
            f"{name} must be a time zone name such as UTC or Europe/Paris, not {value!r}"
        ) from None
    return value
