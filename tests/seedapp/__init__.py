"""Django app holding the Channels 1.x tutorial examples (the seeds) exactly as written.

Each ``seedNNN_*`` module is one example, verbatim except for ``channels`` → ``channels_classic``
in its imports; the ``*_fixed`` modules are the same code with the one bug named in their
docstring corrected.  ``tests/programming_model/test_seeds.py`` runs them.
"""
