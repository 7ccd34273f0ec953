"""Seed 000 "Routing": include() with a path prefix, path and method filters."""
