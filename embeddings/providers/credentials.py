"""Provider credentials and addresses: what an admin saved on the settings page, else the
environment variable the field names, else the field's default. The one place that looks them
up, and that keeps them out of what people read: pages show `sk-…abcd`.

A provider declares its fields on its class (`credentials = (API_KEY, BASE_URL)`); what the page
saved lives in `ProviderCredential` rows, one per field, so a new provider needs no new column.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.apps import apps
from django.conf import settings

from reclio_admin.env import env_int, env_str, env_url

# The largest limit a minute a field takes.
MAX_PER_MINUTE = 1_000_000_000


@dataclass(frozen=True)
class CredentialField:
    """One secret or address a provider needs: `name` is its form field and its stored row,
    `env` the environment variable read when the page saved none (NAME.upper() unless given),
    `default` what the provider uses when neither has one. A secret is masked on the page and
    scrubbed from messages; a `per_minute` limit is a whole number; anything else is an http(s)
    URL."""

    name: str
    label: str
    secret: bool = False
    per_minute: bool = False
    env: str = field(default="")
    default: str = ""

    def __post_init__(self) -> None:
        if not self.env:
            object.__setattr__(self, "env", self.name.upper())

    def from_environment(self) -> str:
        """The environment's value: settings' own reading where reclio_admin/settings.py names the
        variable (checked at start-up), else the variable itself, read the same way (a
        malformed URL raises ImproperlyConfigured naming it; `manage.py check` reads them all)."""
        if hasattr(settings, self.env):
            return str(getattr(settings, self.env) or "").strip()
        if self.per_minute:
            return str(env_int(self.env, 0, minimum=0, maximum=MAX_PER_MINUTE) or "")
        return env_str(self.env) if self.secret else env_url(self.env)


@dataclass(frozen=True)
class Credential:
    value: str
    source: str  # "page", "environment", or "" when neither has one (value is then the default)


_pinned: contextvars.ContextVar[Mapping[str, str] | None] = contextvars.ContextVar(
    "pinned_credentials", default=None
)


@contextmanager
def reading(values: Mapping[str, str]) -> Iterator[None]:
    """Inside the block, the page's values are `values`, not the stored rows: the connection form
    tries new values before it keeps them (without holding any row meanwhile), and the settings
    page reads the stored ones once for every model it lists."""
    token = _pinned.set(values)
    try:
        yield
    finally:
        _pinned.reset(token)


def saved_values() -> dict[str, str]:
    """Every value saved on the page, by field name, decrypted."""
    # Looked up by name, so that importing a provider (which asks this module) needs no app
    # registry: a shell or a subprocess may load a local model without setting Django up.
    model = apps.get_model("embeddings", "ProviderCredential")
    return dict(model.objects.values_list("name", "value"))


def page_values() -> Mapping[str, str]:
    """The page's values as a provider reads them now: those pinned by `reading`, else the
    stored ones."""
    pinned = _pinned.get()
    return saved_values() if pinned is None else pinned


def credential(wanted: CredentialField, saved: Mapping[str, str] | None = None) -> Credential:
    """The value a provider will use for `wanted`, and where it comes from (`saved`: the page's
    values, when the caller has read them already)."""
    saved = page_values() if saved is None else saved
    if value := (saved.get(wanted.name) or "").strip():
        return Credential(value, "page")
    if value := wanted.from_environment():
        return Credential(value, "environment")
    return Credential(wanted.default, "")


def mask(secret: str) -> str:
    """How a stored key is shown: `sk-…abcd`, never more."""
    if not secret:
        return ""
    if len(secret) < 12:
        return "…" + secret[-2:]
    return f"{secret[:3]}…{secret[-4:]}"
