"""Seed 001 "Enforcing Ordering": slight ordering on the username chat, and the strict
ordering fragment."""
