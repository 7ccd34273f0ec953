"""Default routing for the unit-test settings (tests usually swap it with apply_routes)."""

channel_routing: list = []
