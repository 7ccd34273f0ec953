"""The Channels 4 side of the benchmark; imported only in ``benchmarks/.venv-channels4``."""
