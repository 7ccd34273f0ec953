"""Settings for the real-process worker and runserver tests.

The tests start ``python -m django runworker|runserver --settings tests.workerapp.settings``
and pass what differs per test through the environment:

``CC_TEST_REDIS_URL``  the Redis layer's host (unset: the in-memory layer, for runserver)
``CC_TEST_DB``         path of the SQLite database file
``CC_TEST_DEBUG``      "1" for DEBUG = True
``CC_TEST_NO_LAYER``   "1" for no CHANNEL_LAYERS at all (runserver falls back to Django's)
``CC_TEST_SCRIPT_NAME`` FORCE_SCRIPT_NAME
``CC_TEST_RELOAD_DIR``  a directory holding ``cc_reload_probe.py``, imported so the autoreload
                       test can touch a file of its own
"""

import importlib
import os
import sys
import tempfile

if os.environ.get("CC_TEST_RELOAD_DIR"):
    sys.path.insert(0, os.environ["CC_TEST_RELOAD_DIR"])
    importlib.import_module("cc_reload_probe")

SECRET_KEY = "tests-only-not-secret"
DEBUG = os.environ.get("CC_TEST_DEBUG") == "1"
USE_TZ = True
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "channels_classic",
    "django.contrib.staticfiles",
    "tests.workerapp",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
]
ROOT_URLCONF = "tests.workerapp.urls"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("CC_TEST_DB")
        or os.path.join(tempfile.gettempdir(), "cc-workerapp.sqlite3"),
    }
}
STATIC_URL = "/static/"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": []},
    }
]
CHANNELS_CONSUME_LATER_RETRIES = 2
CHANNELS_WS_PROTOCOLS = ["echo.v1"]

FORCE_SCRIPT_NAME = os.environ.get("CC_TEST_SCRIPT_NAME") or None

_REDIS_URL = os.environ.get("CC_TEST_REDIS_URL")
if os.environ.get("CC_TEST_NO_LAYER") == "1":
    CHANNEL_LAYERS = {}
elif _REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_classic.layers.redis.RedisChannelLayer",
            # A short receive timeout: idle threads notice a stop request sooner.
            "CONFIG": {"hosts": [_REDIS_URL], "receive_timeout": 0.5},
            "ROUTING": "tests.workerapp.routing.channel_routing",
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "asgiref.inmemory.ChannelLayer",
            "ROUTING": "tests.workerapp.routing.channel_routing",
        }
    }
