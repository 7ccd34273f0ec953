"""ChannelLiveServerTestCase and websocketbridge.js.

The positive tests run real test modules (``live_cases.py``, ``live_browser_cases.py``) with
the Django test runner in a child process, as a project's ``manage.py test`` would: a live
server needs a test database other processes can open, which this pytest session (SQLite in
memory) does not have.  The refusals are checked here, in process.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from channels_classic.test import ChannelLiveServerTestCase
from channels_classic.test.liveserver import (
    LiveServerError,
    LiveServerProcess,
    LiveServerSpec,
    _child_settings,
    overridden_settings,
    settings_module,
)

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def run_django_tests(label: str, redis_url: str, directory: Path) -> str:
    """``python -m django test <label>`` with the live-server test settings; its output."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "CC_LIVE_REDIS_URL": redis_url,
           "CC_LIVE_DIR": str(directory)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    completed = subprocess.run(
        [sys.executable, "-m", "django", "test", label, "--settings",
         "tests.liveserver.settings", "--noinput", "-v", "2"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=100, check=False,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output
    return output


@pytest.mark.e2e
@pytest.mark.redis
def test_live_server_serves_http_static_files_websockets_and_bindings(redis_url, tmp_path):
    output = run_django_tests("tests.liveserver.live_cases", redis_url, tmp_path)
    assert re.search(r"^Ran 8 tests in ", output, re.MULTILINE), output
    assert re.search(r"^OK$", output, re.MULTILINE), output
    assert "[live server]" not in output  # the server process logged no warning or error


@pytest.mark.browser
@pytest.mark.e2e
@pytest.mark.redis
@pytest.mark.skipif(not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)),
                    reason="needs /usr/bin/chromium and /usr/bin/chromedriver")
def test_websocketbridge_js_in_headless_chromium(redis_url, tmp_path):
    output = run_django_tests("tests.liveserver.live_browser_cases", redis_url, tmp_path)
    assert re.search(r"^Ran 1 test in ", output, re.MULTILINE), output
    assert "test_bridge" in output and re.search(r"^OK$", output, re.MULTILINE), output


# -- refusals and pieces, in this process -----------------------------------------------------


def start_class(**attrs) -> type[ChannelLiveServerTestCase]:
    """Run setUpClass of a fresh ChannelLiveServerTestCase subclass (clean-ups always run)."""
    case = type("Case", (ChannelLiveServerTestCase,), {"test_nothing": lambda self: None,
                                                       **attrs})
    try:
        case.setUpClass()
    finally:
        case.doClassCleanups()
    return case


@pytest.mark.django_db(transaction=True)
def test_the_in_memory_layer_is_refused():
    with pytest.raises(ImproperlyConfigured, match="only works inside one process"):
        start_class()


@pytest.mark.django_db(transaction=True)
@pytest.mark.redis
def test_an_in_memory_sqlite_test_database_is_refused(redis_url):
    layers = {"default": {"BACKEND": "channels_classic.layers.redis.RedisChannelLayer",
                          "TEST_CONFIG": {"hosts": [redis_url]},
                          "ROUTING": "tests.testapp.routing.channel_routing"}}
    with override_settings(CHANNEL_LAYERS=layers), \
            pytest.raises(ImproperlyConfigured, match="in-memory SQLite test database"):
        start_class()


@pytest.mark.django_db(transaction=True)
def test_missing_layers_and_aliases_are_refused():
    with override_settings(CHANNEL_LAYERS={}), \
            pytest.raises(ImproperlyConfigured, match="needs CHANNEL_LAYERS"):
        start_class()
    layers = {"default": {"BACKEND": "channels_classic.layers.redis.RedisChannelLayer",
                          "ROUTING": "tests.testapp.routing.channel_routing"}}
    with override_settings(CHANNEL_LAYERS=layers), \
            pytest.raises(ImproperlyConfigured, match="'other', which CHANNEL_LAYERS"):
        start_class(channel_layer_alias="other")


def test_overridden_settings_are_collected_newest_first():
    assert "SETTINGS_MODULE" not in overridden_settings()
    with override_settings(LIVE_A=1, LIVE_B=1), override_settings(LIVE_B=2):
        found = overridden_settings()
        assert (found["LIVE_A"], found["LIVE_B"]) == (1, 2)
        assert settings_module() == "tests.settings"
    assert "LIVE_A" not in overridden_settings()


@pytest.mark.django_db
def test_settings_that_cannot_be_pickled_are_named():
    with override_settings(LIVE_CALLBACK=lambda: None), \
            pytest.raises(ImproperlyConfigured, match="setting LIVE_CALLBACK"):
        _child_settings()


@pytest.mark.e2e
def test_a_server_that_cannot_start_reports_why():
    spec = LiveServerSpec(settings={"INSTALLED_APPS": ["channels_classic", "no_such_app"]})
    with pytest.raises(LiveServerError, match=r"exited with status 1(.|\n)*no_such_app"):
        LiveServerProcess(spec, startup_timeout=30).start()
