"""Seed 000: the echo server."""
