"""Seed 000 "Groups": a chat room everyone joins."""
