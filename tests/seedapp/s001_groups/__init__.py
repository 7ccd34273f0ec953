"""Seed 001 "Groups": the chat server."""
