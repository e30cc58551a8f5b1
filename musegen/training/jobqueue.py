"""The training queue of a runs folder: each run's ``job.json``, the runs' states, the queued jobs in
first-come order, and the lock a worker holds while it takes a slot."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from musegen import runs
from musegen.errors import MusegenError, RunNotFoundError

JOB, LOG, LOCK = "job.json", "worker.log", ".jobs.lock"


def run_dirs(runs_dir: Path) -> list[Path]:
    """The run folders in ``runs_dir`` (those with a config.json); [] when it cannot be listed."""
    try:
        if not runs_dir.is_dir():
            return []
        return [p for p in runs_dir.iterdir() if not p.name.startswith(".") and (p / runs.CONFIG).is_file()]
    except OSError:  # an unreadable runs folder lists no jobs (runs.list_runs says why)
        return []


def number(value: Any, default: float) -> float:
    """A time stamp from job.json: a finite number, else ``default``."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value == value and abs(value) < 1e12:
        return float(value)
    return float(default)


def read_job(run_dir: Path) -> dict[str, Any]:
    """job.json ({} without one), read with the run folder's limits; RunNotFoundError when damaged."""
    job = runs.read_json(run_dir / JOB, default={})
    return job if isinstance(job, dict) else {}


def job_states(runs_dir: Path) -> Iterator[tuple[Path, str]]:
    """(run folder, state) of every readable run; a dead worker's queued job is skipped."""
    for path in run_dirs(runs_dir):
        try:
            status = runs.read_status(path)
        except MusegenError:
            continue
        if status["state"] == "queued" and not runs.pid_alive(status.get("pid")):
            continue
        yield path, status["state"]


def queue_of(runs_dir: Path) -> list[Path]:
    """Queued jobs with a live worker, first come first served."""
    queued = [p for p, s in job_states(runs_dir) if s == "queued"]

    def when(path: Path) -> float:
        try:
            job = read_job(path)
        except RunNotFoundError:  # a damaged job.json: last in line, and the queue goes on
            return float("inf")
        return number(job.get("queued", job.get("created")), 0.0)

    return sorted(queued, key=lambda p: (when(p), p.name))


@contextlib.contextmanager
def locked(runs_dir: Path) -> Iterator[None]:
    """An exclusive lock on the runs folder's queue (fcntl; a no-op where it does not exist)."""
    try:
        import fcntl
    except ImportError:  # Windows: the queue is then best effort
        yield
        return
    with open(runs_dir / LOCK, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
