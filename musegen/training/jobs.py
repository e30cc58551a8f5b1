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

import contextlib
import logging
import os
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from musegen import runs
from musegen.config import Limits, RunConfig
from musegen.datasets.dataset import build_dataset
from musegen.errors import AccessError, ConfigError, MusegenError, RunNotFoundError, TrainingError
from musegen.fileio import atomic_write_json
from musegen.paths import PROJECT_ROOT
from musegen.records import History, Metrics
from musegen.representations.registry import check, get
from musegen.sources.ingest import ingest_paths
from musegen.sources.uploads import remove_old_sessions
from musegen.training.loop import train

log = logging.getLogger(__name__)

JOB, LOG, LOCK = "job.json", "worker.log", ".jobs.lock"
POLL_S = 1.0  # how often a queued worker looks for a free slot

__all__ = [
    "JobStatus",
    "active_jobs",
    "check_owner",
    "job_status",
    "list_jobs",
    "resume_training",
    "run_owner",
    "start_training",
    "visible_to",
]


@dataclass
class JobStatus:
    """Where one training job stands, read from its run folder (no model loaded)."""

    run_dir: Path
    run_id: str
    state: str  # queued | running | stopped | finished | failed
    message: str
    owner: str = ""  # the session that started it ("" for runs made by the CLI)
    arch: str = ""
    unit: str = "token"  # what its losses are per: the representation's unit ("token", "frame")
    epoch: int = 0  # epoch of the last recorded batch (1-based)
    epochs: int = 0  # total epochs of the run
    batch: int = 0
    batches: int = 0  # batches per epoch (0 until training has begun)
    progress: float = 0.0  # 0..1 of all batches of all epochs
    elapsed_s: float = 0.0
    eta_s: float | None = None  # an upper bound: early stopping may end sooner
    queue_position: int | None = None  # 1 = next to start; None unless queued
    resumable: bool = False  # failed or stopped with a checkpoint and epochs left: resume_training() continues it
    running: int = 0  # trainings running in this runs folder now
    limit: int = 0  # Limits.max_concurrent_trainings
    created: float = 0.0
    history: History = field(default_factory=History, repr=False)
    metrics: Metrics | None = None

    @property
    def active(self) -> bool:
        return self.state in runs.ACTIVE_STATES


# ---------------------------------------------------------------- starting


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
    job = _read_job(info.path)
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


# ---------------------------------------------------------------- status


def job_status(run_dir: str | Path, limits: Limits | None = None) -> JobStatus:
    """The state, progress, ETA and queue place of the job in ``run_dir``."""
    limits = limits or Limits.from_env()
    info = runs.load_run(run_dir)
    job = _read_job(info.path)
    status = runs.read_status(info.path)
    state, message = info.status, info.message
    if state == "queued" and not runs.pid_alive(status.get("pid")):
        state, message = "failed", "the training worker ended before training began; start the training again."
    epochs = info.config.train.epochs if info.config else 0
    js = JobStatus(
        run_dir=info.path,
        run_id=info.run_id,
        state=state,
        message=message,
        owner=str(job.get("owner", "")),
        arch=info.config.model.arch if info.config else "",
        unit=_unit(info.config),
        epochs=epochs,
        created=_number(job.get("created"), info.updated),
        history=info.history,
        metrics=info.metrics,
        limit=limits.max_concurrent_trainings,
    )
    _fill_progress(js, info.config, state)
    js.resumable = state in ("failed", "stopped") and (info.path / runs.LAST).is_file() and info.epochs_done < epochs
    if state == "queued":
        queue = _queue(info.path.parent)
        js.running = sum(1 for _, s in _states(info.path.parent) if s == "running")
        js.queue_position = queue.index(info.path) + 1 if info.path in queue else None
    return js


def _unit(config: RunConfig | None) -> str:
    """The unit of a run's losses; a config naming no known representation reads as tokens."""
    try:
        return get(config.data.representation).unit if config else "token"
    except ConfigError:
        return "token"


def _fill_progress(js: JobStatus, config: RunConfig | None, state: str) -> None:
    history = js.history
    js.batches = int(history.batches_per_epoch or 0)
    if history.batches:
        last = history.batches[-1]
        js.epoch, js.batch = int(last.epoch), int(last.batch)
        js.elapsed_s = float(last.elapsed_s or 0.0)
    if state == "finished":
        js.progress = 1.0
    elif js.batches and js.epochs:
        done = (js.epoch - 1) * js.batches + js.batch
        total = js.epochs * js.batches
        js.progress = min(1.0, done / total)
        if state == "running" and done and js.elapsed_s:
            js.eta_s = js.elapsed_s / done * (total - done)
            if config and config.train.max_minutes > 0:
                js.eta_s = min(js.eta_s, max(0.0, config.train.max_minutes * 60 - js.elapsed_s))


def list_jobs(runs_dir: str | Path, owner: str | None = None) -> list[JobStatus]:
    """Every run in ``runs_dir`` as a job (optionally only ``owner``'s), newest first."""
    jobs = []
    for path in _run_dirs(Path(runs_dir)):
        if owner is not None and run_owner(path) != owner:
            continue  # another session's run, or one whose job.json is damaged
        try:
            jobs.append(job_status(path))
        except MusegenError as exc:
            log.warning("skipping the unreadable run %s: %s", path, exc)
        except Exception as exc:  # one damaged folder must never hide the other jobs
            log.warning("skipping the damaged run %s: %s: %s", path, type(exc).__name__, exc)
    return sorted(jobs, key=lambda j: (j.created, j.run_id), reverse=True)


def active_jobs(runs_dir: str | Path, owner: str | None = None) -> list[JobStatus]:
    """Jobs queued or running in ``runs_dir`` (optionally only ``owner``'s), newest first."""
    return [j for j in list_jobs(runs_dir, owner) if j.active]


# ---------------------------------------------------------------- who may see and touch a run
#
# A run started from the app belongs to the browser session that started it (``owner`` in
# job.json). Other sessions neither see it nor stop or delete it. A run without an owner was
# made outside the app (the command line): it is shared, visible to every session, and
# managed on disk rather than from a page.


def run_owner(run_dir: str | Path) -> str | None:
    """The session that started the run: "" for a run made outside the app, None when job.json is damaged."""
    try:
        return str(_read_job(Path(run_dir)).get("owner", "") or "")
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


def _run_dirs(runs_dir: Path) -> list[Path]:
    try:
        if not runs_dir.is_dir():
            return []
        return [p for p in runs_dir.iterdir() if not p.name.startswith(".") and (p / runs.CONFIG).is_file()]
    except OSError:  # an unreadable runs folder lists no jobs (runs.list_runs says why)
        return []


def _number(value: Any, default: float) -> float:
    """A time stamp from job.json: a finite number, else ``default``."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value == value and abs(value) < 1e12:
        return float(value)
    return float(default)


def _read_job(run_dir: Path) -> dict[str, Any]:
    """job.json ({} without one), read with the run folder's limits; RunNotFoundError when damaged."""
    job = runs.read_json(run_dir / JOB, default={})
    return job if isinstance(job, dict) else {}


def _states(runs_dir: Path) -> Iterator[tuple[Path, str]]:
    """(run folder, state) of every readable run; a dead worker's queued job is skipped."""
    for path in _run_dirs(runs_dir):
        try:
            status = runs.read_status(path)
        except MusegenError:
            continue
        if status["state"] == "queued" and not runs.pid_alive(status.get("pid")):
            continue
        yield path, status["state"]


def _queue(runs_dir: Path) -> list[Path]:
    """Queued jobs with a live worker, first come first served."""
    queued = [p for p, s in _states(runs_dir) if s == "queued"]

    def when(path: Path) -> float:
        try:
            job = _read_job(path)
        except RunNotFoundError:  # a damaged job.json: last in line, and the queue goes on
            return float("inf")
        return _number(job.get("queued", job.get("created")), 0.0)

    return sorted(queued, key=lambda p: (when(p), p.name))


# ---------------------------------------------------------------- the worker process


@contextlib.contextmanager
def _locked(runs_dir: Path) -> Iterator[None]:
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


def _wait_for_slot(run_dir: Path, limits: Limits) -> bool:
    """Wait until this job is first in the queue and a slot is free; False if stopped or deleted."""
    runs_dir = run_dir.parent
    announced = None
    while True:
        if not run_dir.is_dir():
            return False
        if runs.stop_requested(run_dir):
            runs.clear_stop(run_dir)
            runs.write_status(run_dir, "stopped", "stopped before training began")
            return False
        with _locked(runs_dir):
            running = sum(1 for _, s in _states(runs_dir) if s == "running")
            queue = _queue(runs_dir)
            if running < limits.max_concurrent_trainings and queue and queue[0] == run_dir:
                runs.write_status(run_dir, "running", "preparing data")
                return True
        ahead = queue.index(run_dir) if run_dir in queue else 0
        waiting = (running, ahead)
        if waiting != announced:
            message = f"waiting for a free slot: {running} of {limits.max_concurrent_trainings} trainings running"
            runs.write_status(run_dir, "queued", message + (f", {ahead} ahead in the queue" if ahead else ""))
            announced = waiting
        time.sleep(POLL_S)


def _train(run_dir: Path) -> None:
    config = RunConfig.load(run_dir / runs.CONFIG)
    job = _read_job(run_dir)
    if job.get("resume"):  # the stored split (or the run's token store) and the last checkpoint
        dataset = runs.training_dataset(run_dir)
        print(f"resuming {run_dir.name} from its last checkpoint", flush=True)
        result = train(config, dataset, run_dir, on_progress=_print_epoch, resume=True)
        print(f"{result.status}: {result.message}", flush=True)
        return
    report = ingest_paths(job.get("data") or [], config.data)
    report.require_usable()
    max_pieces = job.get("max_pieces")
    pieces = report.pieces[:max_pieces] if max_pieces else report.pieces
    print(f"{report.n_ok} usable files, {report.n_skipped} skipped; training on {len(pieces)} pieces", flush=True)
    dataset = build_dataset(pieces, config.data)
    if runs.stop_requested(run_dir):
        runs.write_status(run_dir, "stopped", "stopped before training began")
        return
    result = train(config, dataset, run_dir, on_progress=_print_epoch)
    print(f"{result.status}: {result.message}", flush=True)


def _print_epoch(event: Any) -> None:
    if event.kind == "epoch":
        print(f"epoch {event.epoch}/{event.epochs} loss {event.loss} val_loss {event.val_loss}", flush=True)


def worker_main(run_dir: str | Path) -> int:
    """Entry of the worker process: queue, data, training; every failure lands in status.json."""
    run_dir = Path(run_dir).resolve()
    try:
        if not (run_dir / runs.CONFIG).is_file():
            raise RunNotFoundError(f"{run_dir} is not a musegen run; nothing to train.")
        limits = Limits.from_env()
        runs.write_status(run_dir, "queued", "waiting for a free training slot")  # now with this worker's pid
        if not _wait_for_slot(run_dir, limits):
            return 0
        _train(run_dir)
        return 0
    except MusegenError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        _mark_failed(run_dir, str(exc))
        return 2
    except Exception as exc:
        traceback.print_exc()
        _mark_failed(run_dir, f"unexpected error ({type(exc).__name__}: {exc}); details in {LOG}")
        return 1


def _mark_failed(run_dir: Path, message: str) -> None:
    """Record a failure unless training already recorded it (or the folder was deleted)."""
    if not run_dir.is_dir():
        return
    try:
        if runs.read_status(run_dir)["state"] == "failed":
            return
    except MusegenError:
        pass  # a damaged status.json is replaced below
    try:
        runs.write_status(run_dir, "failed", message)
    except OSError as exc:
        print(f"cannot record the failure in {run_dir}: {exc}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: python -m musegen.training.jobs RUN_DIR", file=sys.stderr)
        sys.exit(2)
    sys.exit(worker_main(sys.argv[1]))


def upload_folders_in_use(runs_dir: str | Path) -> list[Path]:
    """Data folders named by the jobs still queued or running in ``runs_dir``."""
    paths = []
    for job in active_jobs(runs_dir):
        try:
            data = _read_job(job.run_dir).get("data") or []
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
