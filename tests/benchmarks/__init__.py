"""Tests of the benchmark tooling (pure parts only: parsing, accounting, reports)."""
