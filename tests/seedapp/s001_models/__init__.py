"""Seed 001 "Models", as written.

The seed's code uses names it never defines: ``Group`` (not imported) in ``msg_consumer`` and
``ws_connect``, ``room`` in ``msg_consumer``, and ``channel_session['room']`` (the decorator
function) and ``content`` in ``ws_message``.  Each of those consumers fails when it runs; the
worker logs it and goes on.  Seed 000's version of this example is the corrected one.
"""
