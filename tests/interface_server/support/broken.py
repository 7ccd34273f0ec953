"""An ASGI module that fails at import time (the CLI must report it in one line)."""

raise RuntimeError("settings are\nbroken")
