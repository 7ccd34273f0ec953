"""Seed 000 "First Consumers": a raw http.request consumer."""
