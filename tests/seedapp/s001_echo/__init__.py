"""Seed 001: the echo server, routed through a dict."""
