"""The Django view and URLs both benchmark projects serve."""
