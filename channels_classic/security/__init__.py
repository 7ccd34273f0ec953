"""Security helpers for consumers (WebSocket origin validation)."""
