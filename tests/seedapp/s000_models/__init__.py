"""Seed 000 "Models": ORM-backed chat through the ``chat-messages`` channel, as written.

The seed's consumers use ``Group`` without importing it, so ``ws_connect`` and the broadcast
in ``msg_consumer`` raise ``NameError``; see ``s000_models_fixed``.
"""
