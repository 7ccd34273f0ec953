"""Seed 000, "First Consumers", routing.py — verbatim but for the import rename and the
consumer's dotted path ("myapp.consumers.http_consumer" is where this project keeps it)."""
# ruff: noqa

from channels_classic.routing import route

channel_routing = [
    route("http.request", "tests.seedapp.s000_first_consumers.consumers.http_consumer"),
]
