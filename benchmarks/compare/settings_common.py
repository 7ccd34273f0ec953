"""Django settings both benchmark projects share, so the Django-view comparison is fair.

DEBUG is off, the database is SQLite (a file in the run's temporary directory, named by
``BENCH_DB``), and the middleware list is Django's ``startproject`` default: the session,
authentication and message middleware are lazy and never touch the database for a view that
does not use them, so nothing in the hot path does I/O besides the channel layer.
"""

from __future__ import annotations

import os
import tempfile

SECRET_KEY = "benchmark-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
USE_TZ = True
ROOT_URLCONF = "benchmarks.compare.djsite.urls"
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("BENCH_DB") or os.path.join(tempfile.gettempdir(), "bench.sqlite3"),
    }
}
TEMPLATES: list[dict[str, object]] = []
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    # A failing view must show up in the component's log (Django only mails it when DEBUG
    # is off).  The root logger is left to the servers, which set up their own output.
    "loggers": {"django": {"handlers": ["stderr"], "level": "WARNING", "propagate": False}},
}

#: The Redis server of this stack (each stack gets its own).
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
