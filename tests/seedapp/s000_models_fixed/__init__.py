"""Seed 000 "Models" with its one bug fixed: ``Group`` is imported."""
