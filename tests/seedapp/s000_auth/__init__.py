"""Seed 000 "Authentication": rooms by the first letter of the username."""
