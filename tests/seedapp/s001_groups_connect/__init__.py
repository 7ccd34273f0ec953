"""Seed 001 "Groups", first step: join on connect, leave on disconnect (no receive yet)."""
