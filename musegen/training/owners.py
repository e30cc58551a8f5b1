"""Who may see and touch a run.


A run started from the app belongs to the browser session that started it (``owner`` in
job.json). Other sessions neither see it nor stop or delete it. A run without an owner was
made outside the app (the command line): it is shared, visible to every session, and
managed on disk rather than from a page.

"""

from __future__ import annotations

from pathlib import Path

from musegen.errors import AccessError, RunNotFoundError
from musegen.training.jobqueue import read_job


def run_owner(run_dir: str | Path) -> str | None:
    """The session that started the run: "" for a run made outside the app, None when job.json is damaged."""
    try:
        return str(read_job(Path(run_dir)).get("owner", "") or "")
    except RunNotFoundError:
        return None


def visible_to(run_dir: str | Path, session: str) -> bool:
    """Whether ``session`` may see the run: its own runs and the shared (ownerless) ones."""
    return run_owner(run_dir) in ("", session)


def check_owner(run_dir: str | Path, session: str) -> None:
    """Raise AccessError unless ``session`` started the run (only its owner stops or deletes it)."""
    owner = run_owner(run_dir)
    if not session or owner != session:
        whose = "another browser session" if owner else "nobody in the app (it was made on the command line)"
        raise AccessError(
            f"run {Path(run_dir).name} belongs to {whose}; only the session that started a training "
            "can stop or delete it."
        )
