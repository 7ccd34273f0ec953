"""Tests of the Channels 1.x programming model (sessions, auth, consumers, helpers, seeds)."""
