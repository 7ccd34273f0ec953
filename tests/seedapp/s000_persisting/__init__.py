"""Seed 000 "Persisting Data": rooms kept in the channel session."""
