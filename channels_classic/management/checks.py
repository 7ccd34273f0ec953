"""System check: ``channels_classic`` must come before ``django.contrib.staticfiles``.

Both apps ship a ``runserver`` command and Django runs the one from the app listed first.  With
staticfiles first, ``manage.py runserver`` is Django's WSGI server: no WebSockets, no workers,
and without this check nothing would say why.  Channels 1.x rebound the staticfiles command's
base class at start-up to hide this; a check that names the fix is less surprising.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Warning, register

__all__ = ["check_app_order"]

_SELF = "channels_classic"
_STATICFILES = "django.contrib.staticfiles"


def _position(apps: list[str], name: str) -> int | None:
    for index, entry in enumerate(apps):
        # An AppConfig path ("channels_classic.apps.ChannelsClassicConfig") counts too.
        if entry == name or entry.startswith(name + ".apps."):
            return index
    return None


@register()
def check_app_order(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Warn when staticfiles is listed before channels_classic in ``INSTALLED_APPS``.

    A warning, not an error: only ``runserver`` is affected, and ported 1.x settings (where
    the order did not matter) must not stop ``migrate`` or ``runworker``.  Django's runserver
    prints it at start, which is where it matters.
    """
    installed = [str(app) for app in settings.INSTALLED_APPS]
    ours, theirs = _position(installed, _SELF), _position(installed, _STATICFILES)
    if ours is None or theirs is None or ours < theirs:
        return []
    return [
        Warning(
            "channels_classic must be listed before django.contrib.staticfiles in "
            "INSTALLED_APPS; otherwise `manage.py runserver` is Django's own server, without "
            "WebSockets or workers.",
            hint=f'Move "{_SELF}" above "{_STATICFILES}" in INSTALLED_APPS.',
            id="channels_classic.W010",
        )
    ]
