"""The stop flag: a file ``stop`` in the run folder that any thread or process may create, and
the training looks for after every batch."""

from __future__ import annotations

import time
from pathlib import Path

from musegen.errors import RunNotFoundError
from musegen.fileio import atomic_write_text
from musegen.runs.layout import CONFIG, STOP


def request_stop(path: str | Path) -> None:
    """Ask the training of this run to stop after the current batch (from any thread or process)."""
    path = Path(path)
    if not (path / CONFIG).is_file():
        raise RunNotFoundError(f"{path} is not a musegen run; nothing to stop.")
    atomic_write_text(path / STOP, f"{time.time()}\n")


def stop_requested(path: str | Path) -> bool:
    return (Path(path) / STOP).exists()


def clear_stop(path: str | Path) -> None:
    (Path(path) / STOP).unlink(missing_ok=True)
