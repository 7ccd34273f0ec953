"""Thin Twisted/autobahn adapters that move bytes between sockets and the pure state machines."""
