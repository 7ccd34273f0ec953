"""``manage.py runworker``: a process that runs consumers for messages from the channel layer."""

from __future__ import annotations

import os
import sys
from argparse import ArgumentParser
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from channels_classic import DEFAULT_CHANNEL_LAYER
from channels_classic.asgi import InvalidChannelLayerError, channel_layers
from channels_classic.log import flush_handlers, setup_logger
from channels_classic.signals import worker_process_ready

LOGGER_NAME = "channels_classic"


def default_http_consumer() -> Any:
    """``StaticFilesConsumer`` under DEBUG with staticfiles installed (as 1.x), else None."""
    if settings.DEBUG and apps.is_installed("django.contrib.staticfiles"):
        from channels_classic.staticfiles import StaticFilesConsumer

        return StaticFilesConsumer()
    return None


class Command(BaseCommand):
    """Consume messages from a channel layer until SIGTERM/SIGINT."""

    help = (
        "Runs a worker: receives messages from the channel layer and runs their consumers. "
        "SIGTERM/SIGINT stop it gracefully; a second signal exits at once."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--layer", default=DEFAULT_CHANNEL_LAYER,
            help="Channel layer alias from CHANNEL_LAYERS (default: %(default)s).",
        )
        parser.add_argument(
            "--only-channels", action="append", dest="only_channels", default=None,
            metavar="GLOB", help="Only listen on channels matching this glob (repeatable).",
        )
        parser.add_argument(
            "--exclude-channels", action="append", dest="exclude_channels", default=None,
            metavar="GLOB", help="Do not listen on channels matching this glob (repeatable).",
        )
        parser.add_argument(
            "--threads", type=int, default=1,
            help="Worker threads, each consuming one message at a time (default: 1).",
        )
        parser.add_argument(
            "--grace-period", type=float, default=None, dest="grace_period",
            help="Seconds in-flight consumers get to finish after SIGTERM "
            "(default: CHANNELS_WORKER_GRACE_PERIOD or 25).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from worker.group import WorkerGroup

        verbosity = int(options.get("verbosity", 1))
        logger = setup_logger(LOGGER_NAME, verbosity)
        alias = options["layer"]
        threads = options["threads"]
        if threads < 1:
            raise CommandError("--threads must be at least 1")
        if options["grace_period"] is not None and options["grace_period"] < 0:
            raise CommandError("--grace-period must not be negative")
        try:
            channel_layer = channel_layers[alias]
        except InvalidChannelLayerError as exc:
            raise CommandError(str(exc)) from exc
        if channel_layer.local_only():
            raise CommandError(
                f"Channel layer {alias!r} is the in-memory layer, which cannot carry messages "
                "between processes, so a separate worker would never see any. Configure a "
                "cross-process layer (channels_classic.layers.redis.RedisChannelLayer) in "
                "CHANNEL_LAYERS, or use `manage.py runserver`, which runs workers inside the "
                "server process."
            )
        channel_layer.router.check_default(http_consumer=default_http_consumer())
        try:
            group = WorkerGroup(
                channel_layer,
                threads=threads,
                grace_period=options["grace_period"],
                only_channels=options["only_channels"],
                exclude_channels=options["exclude_channels"],
                log_each=verbosity >= 2,
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        logger.info("Running worker against channel layer %s", channel_layer)
        worker_process_ready.send(sender=group)
        code = group.serve(signal_handlers=True)
        if code != 0:
            # Consumers are still running (grace period over, or a second signal): leave now
            # rather than let interpreter shutdown wait on, or trip over, their threads.
            flush_handlers(LOGGER_NAME)
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        try:
            channel_layer.channel_layer.close()
        except Exception:
            logger.debug("Closing the channel layer failed", exc_info=True)
