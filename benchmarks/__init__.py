"""Benchmarks: each ``bench_*.py`` module has ``main() -> list[dict]`` printing a table.

Run them all with ``make bench`` (``python -m benchmarks``) or one with
``python -m benchmarks ingest``. Speed is compared as ratios measured in one run.
"""
