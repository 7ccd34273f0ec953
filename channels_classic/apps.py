"""Django app configuration: registers the system checks, nothing else at start-up."""

from __future__ import annotations

from django.apps import AppConfig


class ChannelsClassicConfig(AppConfig):
    """``INSTALLED_APPS += ["channels_classic"]``."""

    name = "channels_classic"
    verbose_name = "Channels (classic)"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the checks)
        from .management import checks as _app_order  # noqa: F401  (INSTALLED_APPS order)
