"""Seed 001, the strict-ordering fragment — verbatim; the seed shows it without imports, so
the import line above the marker is not part of it."""
# ruff: noqa

from channels_classic.sessions import enforce_ordering

# ---- verbatim from the seed ----
@enforce_ordering
def ws_message(message):
    ...
