"""Seed 001 "Authentication", as written.

The seed decorates ``ws_add`` with ``channel_session_user_from_http`` without importing it, so
importing ``consumers`` raises ``NameError`` (a worker routed to it refuses to start); see
``s001_auth_fixed``.
"""
