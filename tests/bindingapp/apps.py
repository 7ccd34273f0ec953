"""App config for the data-binding tests."""

from django.apps import AppConfig


class BindingAppConfig(AppConfig):
    """Models bound to channel groups by :mod:`tests.bindingapp.bindings`."""

    name = "tests.bindingapp"
    label = "bindingapp"
    default_auto_field = "django.db.models.AutoField"

    def ready(self) -> None:
        # As a project would: importing the module defines (and so registers) the bindings.
        from . import bindings  # noqa: F401
