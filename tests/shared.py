"""Tiny trained models built once per test process (once per pytest-xdist worker) and shared by the tests that
only read them.

A module- or parametrized fixture is torn down and built again whenever the tests that use it are not run one
after another (a parameter changes, the scheduler interleaves another module); ``once`` keeps what it built until
the process ends, so a fixture that returns ``once(key, build)`` trains its model at most once per process, and
two modules that ask for the same key share one model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
_MADE: dict[tuple[Any, ...], Any] = {}


def once(key: tuple[Any, ...], build: Callable[[], T]) -> T:
    """``build()`` the first time ``key`` is asked for in this process; the same object every time after."""
    if key not in _MADE:
        _MADE[key] = build()
    return _MADE[key]
