"""Background training jobs: one worker process per run, a queue, and status for a UI.

Training never runs inside a page script. :func:`start_training` creates the run folder
(``config.json``, ``job.json``, status ``queued``) and starts ``python -m musegen.training.jobs RUN_DIR``
in a new session, so it survives page reloads and the browser closing. The worker waits for
a free slot (``Limits.max_concurrent_trainings`` trainings run at once in one runs folder,
first come first served), reads the data, and calls :func:`musegen.training.loop.train`, which
writes ``history.json`` and ``status.json`` as it goes. A UI polls :func:`job_status`; a stop
is ``runs.request_stop(run_dir)`` (within one batch; a queued job ends before it starts).

``job.json`` holds what the worker needs beyond the config (data paths, how many pieces) and
who started the job (``owner``: a browser session id), so a reloaded page finds its own job.
Nothing here imports TensorFlow; the worker does, in its own process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from musegen import runs
from musegen.config import Limits, RunConfig
from musegen.errors import ConfigError, RunNotFoundError, TrainingError
from musegen.fileio import atomic_write_json
from musegen.paths import PROJECT_ROOT
from musegen.representations.registry import check
from musegen.sources.uploads import remove_old_sessions
from musegen.training.jobqueue import JOB, LOCK, LOG, read_job
from musegen.training.jobstatus import JobStatus, active_jobs, job_status, list_jobs
from musegen.training.owners import check_owner, run_owner, visible_to
from musegen.training.worker import POLL_S, worker_main

__all__ = [
    "JOB",
    "LOCK",
    "LOG",
    "POLL_S",
    "JobStatus",
    "active_jobs",
    "check_owner",
    "job_status",
    "list_jobs",
    "remove_idle_uploads",
    "resume_training",
    "run_owner",
    "start_training",
    "upload_folders_in_use",
    "visible_to",
    "worker_main",
]


def start_training(
    run_config: RunConfig,
    data_paths: Sequence[str | Path],
    runs_dir: str | Path,
    *,
    owner: str = "",
    max_pieces: int | None = None,
    limits: Limits | None = None,
) -> Path:
    """Create a queued run in ``runs_dir`` and start its worker process; return the run folder.

    ``data_paths`` are MIDI files, folders or zips (empty: the built-in corpus). The call
    returns at once; the job waits in the queue when ``max_concurrent_trainings`` are running.
    """
    check(run_config)  # the settings, and that the model reads the representation
    if run_config.train.epochs < 1:
        raise ConfigError("epochs must be at least 1 to train.")
    if max_pieces is not None and max_pieces < 1:
        raise ConfigError(f"max_pieces must be at least 1, got {max_pieces}.")
    limits = limits or Limits.from_env()
    runs_dir = Path(runs_dir)
    paths = [str(Path(p).resolve()) for p in data_paths]
    missing = [p for p in paths if not Path(p).exists()]
    if missing:
        raise ConfigError(f"training data not found: {', '.join(missing[:3])}. Load the dataset again.")
    run_dir = runs.new_run_dir(runs_dir, run_config.model.arch)
    job = {"owner": owner, "data": paths, "max_pieces": max_pieces, "created": time.time()}
    atomic_write_json(run_dir / JOB, job)
    runs.atomic_write_text(run_dir / runs.CONFIG, run_config.to_json())
    runs.write_status(run_dir, "queued", "starting the training worker")
    _spawn(run_dir)
    return run_dir


def resume_training(run_dir: str | Path, *, owner: str | None = None) -> Path:
    """Queue a failed, killed or stopped run again: it continues from ``last.keras`` to its epochs.

    With ``owner`` (a browser session) only that session's own runs may be resumed. The
    worker trains with ``resume``, which first clears what a killed process left.
    """
    info = runs.load_run(run_dir)
    if owner is not None:
        check_owner(info.path, owner)
    if info.status in runs.ACTIVE_STATES:
        raise TrainingError(f"run {info.run_id} is still {info.status}; there is nothing to resume.")
    if not (info.path / runs.LAST).is_file():
        raise TrainingError(f"run {info.run_id} has no checkpoint (last.keras) yet; start a new training instead.")
    total = info.config.train.epochs if info.config else 0
    if info.epochs_done >= total:
        raise TrainingError(f"run {info.run_id} has done all its {total} epochs; start a new training to train longer.")
    job = read_job(info.path)
    job.update(resume=True, queued=time.time())
    atomic_write_json(info.path / JOB, job)
    runs.clear_stop(info.path)
    runs.write_status(info.path, "queued", "resuming from the last checkpoint")
    _spawn(info.path)
    return info.path


def _spawn(run_dir: Path) -> None:
    """Start the worker detached from this process (its own session: page reloads do not kill it)."""
    env = dict(os.environ)
    package_root = str(PROJECT_ROOT)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
    with open(run_dir / LOG, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "musegen.training.jobs", str(run_dir)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            close_fds=True,
        )
    # Reap the worker as soon as it exits: an unreaped (zombie) worker that was killed would
    # still answer "alive" to kill(pid, 0), and its run would read as running forever.
    threading.Thread(target=proc.wait, name=f"reap-{run_dir.name}", daemon=True).start()


def upload_folders_in_use(runs_dir: str | Path) -> list[Path]:
    """Data folders named by the jobs still queued or running in ``runs_dir``."""
    paths = []
    for job in active_jobs(runs_dir):
        try:
            data = read_job(job.run_dir).get("data") or []
        except RunNotFoundError:
            continue
        if isinstance(data, list):
            paths.extend(Path(p).resolve() for p in data if isinstance(p, str) and p)
    return paths


def remove_idle_uploads(
    runs_dir: str | Path, *, keep: Sequence[str] = (), max_age_h: float | None = None
) -> list[Path]:
    """The upload folders of sessions idle for a day (or ``max_age_h`` hours), removed; never those
    of ``keep`` or those a queued or running training still reads."""
    return remove_old_sessions(runs_dir, max_age_h, keep=keep, in_use=upload_folders_in_use(runs_dir))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: python -m musegen.training.jobs RUN_DIR", file=sys.stderr)
        sys.exit(2)
    sys.exit(worker_main(sys.argv[1]))
