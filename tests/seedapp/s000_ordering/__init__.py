"""Seed 000 "Enforcing Ordering": ``@enforce_ordering(slight=True)`` on every consumer.

The seed's code does not compile: its last line lacks a closing parenthesis.
``verbatim.py.txt`` keeps it exactly (a ``.py`` file would break every tool that parses the
tree); ``consumers.py`` is the same code with the parenthesis added.
"""
