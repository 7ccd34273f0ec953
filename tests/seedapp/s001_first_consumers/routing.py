"""Seed 001, "First Consumers", routing.py — verbatim but for the consumer's dotted path
("myproject.myapp.consumers.http_consumer" is where this project keeps it)."""
# ruff: noqa

# In routing.py
channel_routing = {
    "http.request": "tests.seedapp.s001_first_consumers.consumers.http_consumer",
}
