"""Seed 001 "First Consumers": a raw http.request consumer routed through a dict."""
