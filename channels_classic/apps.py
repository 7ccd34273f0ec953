"""Django app configuration: registers the system checks and the data bindings."""

from __future__ import annotations

from django.apps import AppConfig


class ChannelsClassicConfig(AppConfig):
    """``INSTALLED_APPS += ["channels_classic"]``."""

    name = "channels_classic"
    verbose_name = "Channels (classic)"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the checks)
        from .binding.base import BindingMetaclass
        from .management import checks as _app_order  # noqa: F401  (INSTALLED_APPS order)

        # Bindings defined before the app registry was ready connect their model signals now;
        # later ones as they are defined.
        BindingMetaclass.register_all()
