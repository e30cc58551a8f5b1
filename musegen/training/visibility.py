"""Which runs a browser session sees, and what it may do with them.

The app keeps trainings in one runs folder (``MUSEGEN_RUNS_DIR``, default ``runs/``) and the
bundled demo models in another (``MUSEGEN_DEMO_DIR``, default ``assets/models/``). A session
sees its own runs, the demos, and the runs made outside the app (the command line), which
are shared; other sessions' runs stay private to them (:mod:`musegen.training.jobs` records
who started a run). Only a run's own session stops or deletes it; shared runs are managed on
disk and demos are rebuilt with ``make demo-models``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from musegen import runs
from musegen.training import places
from musegen.training.jobs import check_owner, list_jobs, run_owner, visible_to

# where the runs and the bundled models are (musegen.training.places), here too for the pages
RUNS_ENV, DEMO_ENV, runs_dir, demo_dir = places.RUNS_ENV, places.DEMO_ENV, places.runs_dir, places.demo_dir


def model_stamp(run_dir: str | Path) -> float:
    """When the run's best model was written (0 without one): a cache of loaded models keys on it."""
    model = Path(run_dir) / runs.MODEL
    return model.stat().st_mtime if model.is_file() else 0.0


@dataclass
class ModelChoice:
    """A model a session can play: a bundled demo or a run with a best model."""

    label: str
    path: Path
    demo: bool
    owner_run: bool = False  # started by this session


def model_choices(runs_dir: str | Path, demo_dir: str | Path, owner: str = "") -> list[ModelChoice]:
    """``owner``'s runs with a model, the bundled demos, then the shared runs (newest first in each)."""
    demos = [
        ModelChoice(f"{r.run_id} (bundled demo, {r.config.model.arch})", r.path, True)
        for r in sorted(runs.list_runs(demo_dir), key=lambda r: r.run_id, reverse=True)
        if r.has_model and r.config is not None
    ]
    mine, shared = [], []
    for job in list_jobs(runs_dir):
        if not (job.run_dir / runs.MODEL).is_file() or job.owner not in ("", owner):
            continue
        best = job.history.best_value
        score = f", loss {best:.3f}" if best is not None else ""
        label = f"{job.run_id} ({job.state}{score})"
        if owner and job.owner == owner:
            mine.append(ModelChoice(label + " · yours", job.run_dir, False, True))
        else:
            shared.append(ModelChoice(label + " · shared", job.run_dir, False))
    return mine + demos + shared


@dataclass
class ListedRun:
    """A run as a session sees it: the run, whether it is a bundled demo, and what the session may do with it."""

    info: runs.RunInfo
    demo: bool
    action: str  # "demo" (rebuilt by make demo-models), "shared" (managed on disk), "stop" or "delete"


def visible_runs(runs_dir: str | Path, demo_dir: str | Path, session: str) -> list[ListedRun]:
    """The runs ``session`` may see (its own and the shared ones), then the bundled demos."""
    trained = [r for r in runs.list_runs(runs_dir) if visible_to(r.path, session)]
    demos = [r for r in runs.list_runs(demo_dir) if r.config is not None]
    return [ListedRun(r, False, action(r, session)) for r in trained] + [ListedRun(r, True, "demo") for r in demos]


def action(info: runs.RunInfo, session: str) -> str:
    """What ``session`` may do with a run of the runs folder: "stop" or "delete" its own, "shared" otherwise."""
    if not session or run_owner(info.path) != session:
        return "shared"
    return "stop" if info.status in runs.ACTIVE_STATES else "delete"


def stop_run(run_dir: str | Path, session: str) -> None:
    """Ask ``session``'s training in ``run_dir`` to stop within one batch (AccessError for anyone else's run)."""
    check_owner(run_dir, session)
    runs.request_stop(run_dir)


def delete_run(run_dir: str | Path, session: str) -> None:
    """Delete ``session``'s run ``run_dir`` and its models (AccessError for anyone else's run)."""
    check_owner(run_dir, session)
    runs.delete_run(run_dir)
