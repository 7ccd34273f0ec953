"""Settings for the example chat site.

Everything that differs between a laptop and a production host comes from the environment
(Heroku-style), with production-safe defaults:

=================  ==========================================================================
``DEBUG``          ``1``/``true`` turns debug on.  Off by default.
``SECRET_KEY``     Required when DEBUG is off.  A fixed development key is used with DEBUG on.
``ALLOWED_HOSTS``  Comma-separated.  Defaults to localhost names only.
``DATABASE_URL``   ``sqlite:///path`` or ``postgres://user:pass@host:port/name``.  Defaults
                   to SQLite next to manage.py.
``REDIS_URL``      Channel layer.  Unset → the in-memory layer (``runserver`` only).
``CSRF_TRUSTED_ORIGINS``  Comma-separated origins, e.g. ``https://chat.example.com``.
``SECURE_COOKIES`` With DEBUG off, session and CSRF cookies are ``Secure`` (HTTPS only) unless
                   this is ``0``: set it to ``0`` only to try production settings over plain
                   HTTP.
``LOG_LEVEL``      Root log level (``INFO``).
=================  ==========================================================================

Which clients use HTTPS is decided by the interface server, not by a header Django would trust
from anyone: the Procfile's web process runs with ``--proxy-headers``, so a TLS-terminating proxy
listed in ``--proxy-headers-trusted`` (``TRUSTED_PROXIES``) makes requests ``https``.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from urllib.parse import unquote, urlsplit

import django
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_flag(name: str, default: bool = False) -> bool:
    """Read a boolean from the environment (1/true/yes/on)."""
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: list[str]) -> list[str]:
    """Read a comma-separated list from the environment."""
    value = os.environ.get(name)
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def sqlite_options() -> dict[str, object]:
    """SQLite settings for several worker processes writing at once.

    WAL lets readers run while one process writes; a write transaction takes the write lock
    when it begins (``IMMEDIATE``) instead of failing with "database is locked" when it tries
    to upgrade a read lock; and a writer waits up to 20 s for the lock instead of Python's 5 s.
    """
    options: dict[str, object] = {"timeout": 20}
    if django.VERSION >= (5, 1):
        options["init_command"] = "PRAGMA journal_mode=WAL;"
        options["transaction_mode"] = "IMMEDIATE"
    return options


def database_from_url(url: str) -> dict[str, object]:
    """Turn a ``DATABASE_URL`` into a Django DATABASES entry (SQLite and PostgreSQL)."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        # sqlite:///relative/or/absolute/path ; sqlite:// alone means in memory
        path = unquote(parts.path[1:]) if parts.path.startswith("/") else unquote(parts.path)
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": path or ":memory:",
            "OPTIONS": sqlite_options(),
        }
    if parts.scheme in {"postgres", "postgresql", "pgsql"}:
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parts.path.lstrip("/")),
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            "CONN_MAX_AGE": 60,
        }
    raise ImproperlyConfigured(f"Unsupported DATABASE_URL scheme {parts.scheme!r}")


DEBUG = env_flag("DEBUG")
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "Set the SECRET_KEY environment variable (or DEBUG=1 for local development)."
        )
    SECRET_KEY = "development-only-key-not-for-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    # Before staticfiles, so its runserver (interface server + workers) is the one used.
    "channels_classic",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "chat",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Serves STATIC_URL (the admin's CSS and JS) in production; see "Static files" below.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "chatsite.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": database_from_url(
        os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
    )
}

AUTH_PASSWORD_VALIDATORS: list[dict[str, str]] = []

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# Static files: WhiteNoise (example/requirements.txt) serves the installed apps' files straight
# from the apps, so the site works without a collectstatic step.  After ``collectstatic`` it
# serves STATIC_ROOT too; until then that directory does not exist, which is expected.
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
WHITENOISE_USE_FINDERS = True
warnings.filterwarnings("ignore", message="No directory at: .*staticfiles", category=UserWarning)
try:
    import whitenoise  # noqa: F401
except ImportError:  # development without it: runserver serves static files under DEBUG
    MIDDLEWARE.remove("whitenoise.middleware.WhiteNoiseMiddleware")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGIN_URL = "chat:index"

# Sessions in the database work for both HTTP and channel sessions, in one process or many.
SESSION_ENGINE = "django.contrib.sessions.backends.db"

_redis_url = os.environ.get("REDIS_URL")
if _redis_url:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_classic.layers.redis.RedisChannelLayer",
            "CONFIG": {"hosts": [_redis_url]},
            "ROUTING": "chatsite.routing.channel_routing",
        },
    }
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_classic.layers.inmemory.InMemoryChannelLayer",
            "ROUTING": "chatsite.routing.channel_routing",
        },
    }

if not DEBUG:
    SESSION_COOKIE_HTTPONLY = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SESSION_COOKIE_SECURE = env_flag("SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = env_flag("SECURE_COOKIES", True)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
