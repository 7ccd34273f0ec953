"""``python -m interface_server``: the same as the ``interface-server`` command."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
