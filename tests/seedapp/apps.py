"""App config for the seed examples."""

from django.apps import AppConfig


class SeedAppConfig(AppConfig):
    """The tutorials' ``myapp``."""

    name = "tests.seedapp"
    label = "seedapp"
    default_auto_field = "django.db.models.AutoField"
