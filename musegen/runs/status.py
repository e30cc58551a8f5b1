"""A run's status.json (queued | running | stopped | finished | failed) and whether the process
that wrote "running" still lives: a training that died reads as failed."""

from __future__ import annotations

import contextlib
import os
import socket
import time
from pathlib import Path
from typing import Any

from musegen.errors import ConfigError, RunNotFoundError
from musegen.fileio import atomic_write_json
from musegen.runs.layout import HISTORY, STATES, STATUS, read_json


def write_status(path: str | Path, state: str, message: str = "", **extra: Any) -> None:
    """Record the run's state with this process's pid and host and the current time. On a disk too full
    for the temporary file it is written over the old status.json in place, so that a training ended by
    the full disk can still say so."""
    if state not in STATES:
        raise ConfigError(f"run state must be one of {STATES}, got {state!r}.")
    status = {"state": state, "message": message, "pid": os.getpid(), "host": socket.gethostname()}
    status.update(extra, updated=time.time())
    atomic_write_json(Path(path) / STATUS, status, in_place_if_full=True)


def read_status(path: str | Path) -> dict[str, Any]:
    """The status dict; a run whose training process died while running reads as ``failed``."""
    file = Path(path) / STATUS
    status = read_json(file, default={"state": "queued", "message": ""})
    if not isinstance(status, dict):
        raise RunNotFoundError(
            f"{file} holds a {type(status).__name__}, not a run status; the run folder is damaged. Train it again."
        )
    state = status.get("state")
    if not isinstance(state, str) or state not in STATES:
        raise RunNotFoundError(f"{file} has an unknown state {str(state)[:40]!r}; the run folder is damaged.")
    if status["state"] == "running" and not _alive(status, Path(path)):
        status = {
            **status,
            "state": "failed",
            "message": f"the training process (pid {status.get('pid')} on {status.get('host') or 'this host'}) "
            "ended without finishing; resume the run to continue from its last checkpoint.",
        }
    return status


def written_by_me(status: dict[str, Any]) -> bool:
    """Whether this process wrote ``status`` (a job worker may mark a run running before training it)."""
    return status.get("pid") == os.getpid() and status.get("host") in (None, socket.gethostname())


STALE_S = 30 * 60  # another host's "running" run that wrote nothing for this long has lost its process


def _alive(status: dict[str, Any], run_dir: Path) -> bool:
    """Whether the process that wrote ``status`` still runs. Another host's process cannot be asked: it
    counts as alive while the run folder shows signs of life (a training writes history.json every few
    seconds, status.json every epoch), so a chief that died on a host that is gone (a rescheduled pod, a
    lost node) lets the run be resumed elsewhere after ``STALE_S``."""
    pid = status.get("pid")
    if not isinstance(pid, int):
        return True
    if status.get("host") not in (None, socket.gethostname()):
        return _last_write(run_dir, status) > time.time() - STALE_S
    return pid_alive(pid)


def _last_write(run_dir: Path, status: dict[str, Any]) -> float:
    """When the run folder was last written by its training: status.json's time, history.json's mtime."""
    updated = status.get("updated")
    times = [float(updated) if isinstance(updated, int | float) else 0.0]
    with contextlib.suppress(OSError):
        times.append((run_dir / HISTORY).stat().st_mtime)
    return max(times)


def pid_alive(pid: Any) -> bool:
    """Whether a process of this id exists on this machine (one of another user's counts)."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
