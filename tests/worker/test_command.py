"""``runworker`` argument and configuration errors (in-process; the real runs are in
test_runworker_processes)."""

from __future__ import annotations

import logging

import pytest
from django.core.management import CommandError, call_command

from channels_classic.log import level_for_verbosity, setup_logger
from channels_classic.management.commands.runworker import default_http_consumer
from channels_classic.staticfiles import StaticFilesConsumer


@pytest.fixture(autouse=True)
def restore_loggers():
    """The command configures console logging; give later tests (and caplog) theirs back."""
    saved = {}
    for name in ("channels_classic", "interface_server"):
        logger = logging.getLogger(name)
        saved[name] = (logger.handlers[:], logger.propagate, logger.level)
    yield
    for name, (handlers, propagate, level) in saved.items():
        logger = logging.getLogger(name)
        logger.handlers[:] = handlers
        logger.propagate = propagate
        logger.setLevel(level)


def test_refuses_in_memory_layer_and_says_what_to_use():
    with pytest.raises(CommandError) as info:
        call_command("runworker")
    text = str(info.value)
    assert "in-memory layer" in text
    assert "RedisChannelLayer" in text and "runserver" in text


def test_unknown_layer_alias():
    with pytest.raises(CommandError, match="No channel layer named 'nope'"):
        call_command("runworker", layer="nope")


def test_thread_count_and_grace_period_validated():
    with pytest.raises(CommandError, match="--threads must be at least 1"):
        call_command("runworker", threads=0)
    with pytest.raises(CommandError, match="--grace-period must not be negative"):
        call_command("runworker", grace_period=-1)


def test_static_files_consumer_only_under_debug(settings):
    settings.DEBUG = False
    assert default_http_consumer() is None
    settings.DEBUG = True
    assert isinstance(default_http_consumer(), StaticFilesConsumer)


def test_log_levels_and_handlers_not_duplicated():
    assert level_for_verbosity(0) == logging.WARNING
    assert level_for_verbosity(1) == level_for_verbosity(2) == logging.INFO
    assert level_for_verbosity(3) == logging.DEBUG
    logger = logging.getLogger("tests.log.setup")
    try:
        setup_logger("tests.log.setup", 3)
        setup_logger("tests.log.setup", 1)
        assert len(logger.handlers) == 1 and logger.level == logging.INFO
        assert logger.propagate is False
    finally:
        for handler in logger.handlers[:]:
            logger.removeHandler(handler)
        logger.propagate = True
