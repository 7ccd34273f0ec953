"""Seed 001 "Authentication" with its one bug fixed: ``channel_session_user_from_http`` is
imported."""
