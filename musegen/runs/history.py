"""A run's history.json (per epoch and per batch) and metrics.json (the held-out evaluation)."""

from __future__ import annotations

from pathlib import Path

from musegen.errors import RunNotFoundError
from musegen.fileio import atomic_write_json
from musegen.records import History, Metrics
from musegen.runs.layout import HISTORY, METRICS, read_json


def read_history(path: str | Path) -> History:
    """The run's history.json (empty before the first epoch)."""
    file = Path(path) / HISTORY
    try:
        return History.from_dict(read_json(file, default={}))
    except (TypeError, ValueError) as exc:
        raise RunNotFoundError(f"{file} does not hold a training history ({exc}); the run folder is damaged.") from exc


def write_history(path: str | Path, history: History) -> None:
    atomic_write_json(Path(path) / HISTORY, history.to_dict())


def read_metrics(path: str | Path) -> Metrics | None:
    """The run's metrics.json, or None when it was not evaluated."""
    file = Path(path) / METRICS
    raw = read_json(file, default=None)
    if raw is None:
        return None
    try:
        return Metrics.from_dict(raw)
    except (TypeError, ValueError) as exc:
        raise RunNotFoundError(f"{file} does not hold held-out metrics ({exc}); the run folder is damaged.") from exc


def write_metrics(path: str | Path, metrics: Metrics) -> None:
    atomic_write_json(Path(path) / METRICS, metrics.to_dict())
