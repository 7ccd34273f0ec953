"""Settings of a project tested with ``ChannelLiveServerTestCase`` (run by the Django test
runner in a child process of the pytest tests; see ``test_liveserver.py``).

``CC_LIVE_REDIS_URL``  the Redis the layer's TEST_CONFIG uses
``CC_LIVE_DIR``        a directory for the SQLite database files
"""

import os

_DIR = os.environ["CC_LIVE_DIR"]

SECRET_KEY = "tests-only-not-secret"
DEBUG = False
USE_TZ = True
ALLOWED_HOSTS = ["testserver"]  # the test case adds its own host
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "channels_classic",
    "django.contrib.staticfiles",
    "tests.bindingapp",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
ROOT_URLCONF = "tests.liveserver.urls"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.path.join(_DIR, "db.sqlite3"),
        # A file: the live server process must see what the tests write.
        "TEST": {"NAME": os.path.join(_DIR, "test-db.sqlite3")},
    }
}
SESSION_ENGINE = "django.contrib.sessions.backends.db"
STATIC_URL = "/static/"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": []},
    }
]
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "asgi_redis.RedisChannelLayer",
        # Nothing listens here: the tests pass only if TEST_CONFIG is what gets used.
        "CONFIG": {"hosts": ["redis://127.0.0.1:9/0"]},
        "TEST_CONFIG": {
            "hosts": [os.environ["CC_LIVE_REDIS_URL"]],
            "prefix": "livetests:",
            "receive_timeout": 0.5,
        },
        "ROUTING": "tests.liveserver.routing.channel_routing",
    }
}
LIVE_GREETING = "hello from the settings module"
