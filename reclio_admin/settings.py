"""Settings for Reclio Admin. Every value comes from the environment, with a default that runs
locally; the README lists them all."""

from __future__ import annotations

import secrets

import django_stubs_ext
from csp.constants import NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured

from reclio_admin.database import database_config, default_shared_buffers
from reclio_admin.datadir import BASE_DIR, data_dir, static_root, stored_secret_key
from reclio_admin.env import (
    env_bool,
    env_choice,
    env_dirs,
    env_fernet_keys,
    env_float,
    env_int,
    env_int_map,
    env_list,
    env_memory,
    env_str,
    env_timezone,
    env_url,
)
from reclio_admin.logs import logging_config

# Importing this module starts nothing and writes nothing: `manage.py`, `wsgi.py` and `asgi.py`
# prepare the data folder first (reclio_admin.datadir), the first database query starts the
# embedded server (reclio_admin.embedded_postgres).
DATA_DIR = data_dir()

# Lets classes subscript Django's generics at run time (`admin.ModelAdmin[CatalogItem]`), as
# the type checker reads them; changes no behaviour.
django_stubs_ext.monkeypatch()

DEBUG = env_bool("DEBUG", False)


def _secret_key() -> str:
    key = env_str("SECRET_KEY")
    if key:
        return key
    if env_str("DATABASE_URL") and not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is off and DATABASE_URL is used"
        )
    # A local run keeps the key its entry point generated, so sessions survive restarts; a
    # process that never went through one (the test session, the type checker) gets a key for
    # its own life.
    return stored_secret_key(DATA_DIR) or secrets.token_urlsafe(50)


SECRET_KEY = _secret_key()
# Encrypts API keys at rest (reclio_admin/encryption.py): newest first; all decrypt.
FIELD_ENCRYPTION_KEYS = env_fernet_keys("FIELD_ENCRYPTION_KEY", SECRET_KEY)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# Behind HTTPS (README, "Deploying behind HTTPS"); off by default, as `make run` serves plain
# HTTP on this machine.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", False)

# Scripts only from this site's files (htmx, the admin's own); inline styles are allowed, as
# progress bars set their width in a style attribute.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django_htmx",
    "template_partials",
    "django_q",
    "axes",
    "reclio_admin",
    "catalog",
    "embeddings",
    "embeddings.workbench",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "reclio_admin.middleware.RefuseOversizedForms",
    "reclio_admin.middleware.RejectNulBytes",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: it answers a locked-out login attempt.
    "axes.middleware.AxesMiddleware",
]

# Failed logins are throttled (django-axes): after LOGIN_FAILURE_LIMIT failures for one user
# name from one address, that pair is refused for LOGIN_COOLOFF_MINUTES.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = env_int("LOGIN_COOLOFF_MINUTES", 15, minimum=1) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"

ROOT_URLCONF = "reclio_admin.urls"
WSGI_APPLICATION = "reclio_admin.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "reclio_admin.context_processors.site",
            ],
        },
    },
]

DATABASES = {"default": database_config()}
# The embedded server's settings (ignored with DATABASE_URL), applied when it starts: room for the
# HNSW indexes that serve, so neighbour walks read PostgreSQL's own memory.
EMBEDDED_DB_SETTINGS = {
    "shared_buffers": env_memory("EMBEDDED_DB_SHARED_BUFFERS", default_shared_buffers()),
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_timezone("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = static_root(DATA_DIR)
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve straight from the source folders, so no collectstatic step is needed to run.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

LOGIN_URL = "admin:login"

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Embeddings -------------------------------------------------------------------------------
EMBEDDING_PROVIDER = env_choice(
    "EMBEDDING_PROVIDER",
    "auto",
    ("auto", "openai", "ollama", "google", "voyage", "cohere", "local", "none"),
)
LLM_PROVIDER = env_str("LLM_PROVIDER").lower()
# The only local sentence-transformers directories a `local:/path` model key may name.
LOCAL_MODEL_DIRS = env_dirs("LOCAL_MODEL_DIRS")
EMBEDDING_MODEL = env_str("EMBEDDING_MODEL")  # a full model key overrides the provider default
OPENAI_API_KEY = env_str("OPENAI_API_KEY")
OPENAI_BASE_URL = env_url("OPENAI_BASE_URL")
# Ollama's own client reads a bare host:port as http://host:port; so does this.
OLLAMA_HOST = env_url("OLLAMA_HOST", "http://localhost:11434", bare_host_scheme="http")
GOOGLE_API_KEY = env_str("GOOGLE_API_KEY")
GOOGLE_BASE_URL = env_url("GOOGLE_BASE_URL", "https://generativelanguage.googleapis.com")
VOYAGE_API_KEY = env_str("VOYAGE_API_KEY")
VOYAGE_BASE_URL = env_url("VOYAGE_BASE_URL")
COHERE_API_KEY = env_str("COHERE_API_KEY")
COHERE_BASE_URL = env_url("COHERE_BASE_URL")
EMBEDDING_CONCURRENCY = env_int("EMBEDDING_CONCURRENCY", 4, minimum=1, maximum=64)
EMBEDDING_TIMEOUT = env_float("EMBEDDING_TIMEOUT", 60.0, minimum=0.1)
EMBEDDING_MAX_RETRIES = env_int("EMBEDDING_MAX_RETRIES", 5, minimum=0, maximum=20)
# Seconds before the first retry; it doubles (with jitter) on each further one.
EMBEDDING_RETRY_BACKOFF = env_float("EMBEDDING_RETRY_BACKOFF", 1.0, minimum=0.0)
# Seconds of a provider's own Retry-After waits one call may spend before it gives up (they do
# not use up EMBEDDING_MAX_RETRIES: back-pressure slows a job, it does not fail it).
EMBEDDING_RATE_LIMIT_WAIT = env_float("EMBEDDING_RATE_LIMIT_WAIT", 600.0, minimum=0.0)
# Seconds a web request waits for a provider in all (test connection, free-text search).
PROVIDER_DEADLINE = env_float("PROVIDER_DEADLINE", 5.0, minimum=0.5)
# Provider calls one web server process makes for pages at once; one more answers "busy" at once,
# so a slow provider never holds every thread (gunicorn runs 4 a process).
PROVIDER_PAGE_CALLS = env_int("PROVIDER_PAGE_CALLS", 2, minimum=1, maximum=64)
EMBEDDING_BATCH_SIZE = env_int("EMBEDDING_BATCH_SIZE", 128, minimum=1, maximum=2048)
JOB_MAX_FAILED_BATCHES = env_int("JOB_MAX_FAILED_BATCHES", 3, minimum=1)
# A job at least this large into an empty table loads without the HNSW index, then builds it.
JOB_BULK_LOAD_MIN_ITEMS = env_int("JOB_BULK_LOAD_MIN_ITEMS", 1000, minimum=1)
# Items a job's worker lists at a time (it builds the texts of those it claims): its memory is
# bounded by this.
JOB_CHUNK_SIZE = env_int("JOB_CHUNK_SIZE", 2000, minimum=1)
# Workers one job spreads to (a job calls free workers in one by one); the others stay free for
# other jobs and the schedule. A local model's job stays on one worker: it uses every core.
JOB_WORKERS = env_int("JOB_WORKERS", 4, minimum=1, maximum=64)
# Goes into a SET statement: only a well-formed PostgreSQL size gets this far.
HNSW_BUILD_MEMORY = env_memory("HNSW_BUILD_MEMORY", "512MB")
# Candidates the HNSW walk keeps per dimension table (`hnsw.ef_search`), chosen from the recall@10
# and latency bench_similar measured (README, "Vector storage"); `1536:120` overrides one table.
HNSW_EF_SEARCH = env_int_map(
    "HNSW_EF_SEARCH",
    {384: 100, 768: 100, 1024: 100, 1536: 80, 3072: 100},
    minimum=10,
    maximum=1000,
)
# A model being built cuts over by itself only when its franchise recall@10 is at least the
# serving model's minus this margin.
QUALITY_GATE_MARGIN = env_float("QUALITY_GATE_MARGIN", 0.01, minimum=0.0, maximum=1.0)

# --- Catalog content sync ----------------------------------------------------------------------
# A v3 API key (sent as `api_key=`) or a v4 read access token (sent as a bearer token).
TMDB_API_KEY = env_str("TMDB_API_KEY")
TMDB_BASE_URL = env_url("TMDB_BASE_URL", "https://api.themoviedb.org")
# TMDb's documented limit is about 40 requests a second per address (50 at most): the sync
# paces itself at this rate, every request of a process together.
TMDB_REQUESTS_PER_SECOND = env_float("TMDB_REQUESTS_PER_SECOND", 40.0, minimum=0.1, maximum=1000)
# Seconds one TMDb request may take in all (connecting, sending, the whole answer).
TMDB_TIMEOUT = env_float("TMDB_TIMEOUT", 20.0, minimum=0.1)

# --- Background work: django-q2 with the database as broker --------------------------------------
_Q_TIMEOUT = env_int("Q_TIMEOUT", 6 * 3600, minimum=60)
Q_CLUSTER = {
    "name": "reclio",
    "orm": "default",
    # The ORM broker, except that a cluster takes a task only when a worker of its own is free
    # to start it: a long job never holds another task back while other clusters sit idle.
    "broker_class": "reclio_admin.task_queue.HandOffBroker",
    "workers": env_int("Q_WORKERS", 1, minimum=1, maximum=32),
    # Long regeneration jobs run for hours. The ORM broker re-delivers a task not acknowledged
    # within `retry`, so it must outlast `timeout` or a live job task would be run twice. A
    # killed task's entry does not wait that long: the job watchdog (every minute) deletes it
    # as soon as the job's worker lock is gone, and queues the job again.
    "timeout": _Q_TIMEOUT,
    "retry": _Q_TIMEOUT + 60,
    "max_attempts": 1,
    "ack_failures": True,
    "catch_up": False,
    "poll": 0.5,
    "save_limit": 500,
    "label": "Background tasks",
}

# --- Operations -----------------------------------------------------------------------------------
# The bearer token a Prometheus scraper sends to /metrics; unset, only a logged-in admin may read it.
METRICS_TOKEN = env_str("METRICS_TOKEN")
if METRICS_TOKEN and len(METRICS_TOKEN) < 16:
    raise ImproperlyConfigured("METRICS_TOKEN must be at least 16 characters long")

# `text` for people, `json` (one object per line) for a log collector.
LOG_LEVEL = env_choice(
    "LOG_LEVEL", "info", ("debug", "info", "warning", "error", "critical")
).upper()
LOG_FORMAT = env_choice("LOG_FORMAT", "text", ("text", "json"))
LOGGING = logging_config(LOG_FORMAT, LOG_LEVEL)
