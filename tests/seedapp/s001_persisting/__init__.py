"""Seed 001 "Persisting Data": rooms from the path, kept in the channel session."""
