"""Deprecated: the 1.x ``channels.tests`` alias of :mod:`channels_classic.test`."""

import warnings

from .test import *  # noqa: F403
from .test import __all__  # noqa: F401

warnings.warn(
    "channels_classic.tests is deprecated; import from channels_classic.test",
    DeprecationWarning,
    stacklevel=2,
)
