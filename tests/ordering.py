"""The order and the xdist groups of ``make test`` (``pytest -n 2 --dist loadgroup --no-loadscope-reorder``).

Tests marked ``isolated`` (a server and a browser, several training processes) share one group, so that two of
them never run at once. Every other module is a group of its own, so that a module's shared models (module-scoped
fixtures, tests/shared.py) are trained once, not once per worker.

Groups start longest first (the "longest processing time first" rule of scheduling), so that no long module makes
the run's tail while the other worker waits. A group's time is its time in tests/durations.json, which
``make test-durations`` writes from a whole run (``--record-durations``); a group not in it yet is estimated from
its number of tests.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

DURATIONS = Path(__file__).with_name("durations.json")
ISOLATED = "isolated"
SLOW_TEST_SECONDS = 2.0  # the estimate for a slow test of a module not in durations.json
TEST_SECONDS = 0.05  # and for any other test


def recorded() -> dict[str, float]:
    """Each module's seconds in the last recorded whole run (empty when there is none or it is damaged)."""
    try:
        data = json.loads(DURATIONS.read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): float(v) for k, v in data.items()} if isinstance(data, dict) else {}


def module(item: pytest.Item) -> str:
    return item.nodeid.split("::")[0]


def group(item: pytest.Item) -> str:
    return ISOLATED if item.get_closest_marker("isolated") else module(item)


def group_seconds(items: list[pytest.Item], seconds: dict[str, float]) -> dict[str, float]:
    """The expected seconds of each group: its recorded time, or an estimate for a group never recorded."""
    estimate: dict[str, float] = {}
    for item in items:
        cost = SLOW_TEST_SECONDS if item.get_closest_marker("slow") else TEST_SECONDS
        estimate[group(item)] = estimate.get(group(item), 0.0) + cost
    return {g: seconds.get(g, e) for g, e in estimate.items()}


def order(items: list[pytest.Item]) -> None:
    """Put every item in its xdist group and sort the groups longest first (in place, stable within a group)."""
    expected = group_seconds(items, recorded())
    for item in items:
        item.add_marker(pytest.mark.xdist_group(group(item)))
    items.sort(key=lambda item: (-expected[group(item)], group(item)))


class Recorder:
    """Sums each group's test times as the xdist controller receives them and writes tests/durations.json."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        name, _, xdist_group = report.nodeid.rpartition("@")  # pytest-xdist names the group after an "@"
        key = xdist_group if name else report.nodeid.split("::")[0]
        self.seconds[key] = self.seconds.get(key, 0.0) + report.duration

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if session.testsfailed or not self.seconds:
            return  # a broken run would teach the order the wrong times
        merged = {**recorded(), **self.seconds}  # a run of some modules keeps the others' times
        ranked = sorted(merged.items(), key=lambda kv: -kv[1])
        DURATIONS.write_text(json.dumps({k: round(v, 1) for k, v in ranked}, indent=1) + "\n")
