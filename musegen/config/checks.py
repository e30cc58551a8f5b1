"""What every settings dataclass shares: the JSON round trip's builder and the checks of one field."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from musegen.errors import ConfigError

T = TypeVar("T")


def from_dict(cls: type[T], d: dict[str, Any]) -> T:
    """Build dataclass ``cls`` from ``d``, ignoring unknown keys and restoring tuples."""
    if not isinstance(d, dict):
        raise ConfigError(f"expected an object for {cls.__name__}, got {type(d).__name__}.")
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name in d:
            value = d[f.name]
            if isinstance(value, list):
                value = tuple(value)
            kwargs[f.name] = value
    return cls(**kwargs)


def _choice(name: str, value: str, options: tuple[str, ...]) -> None:
    if value not in options:
        raise ConfigError(f"{name} must be one of {', '.join(repr(o) for o in options)}; got {value!r}.")


def _positive(name: str, value: int, high: int, low: int = 1) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ConfigError(f"{name} must be a whole number from {low} to {high}; got {value!r}.")
