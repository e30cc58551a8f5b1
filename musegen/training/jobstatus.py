"""Where a training job stands, for a UI that polls it: state, progress, ETA and queue place
(:class:`JobStatus`), read from its run folder without loading a model."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from musegen import runs
from musegen.config import Limits, RunConfig
from musegen.errors import ConfigError, MusegenError
from musegen.records import History, Metrics
from musegen.representations.registry import get
from musegen.training.jobqueue import job_states, number, queue_of, read_job, run_dirs
from musegen.training.owners import run_owner

log = logging.getLogger("musegen.training.jobs")  # the jobs' warnings, under the name they always had


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


def job_status(run_dir: str | Path, limits: Limits | None = None) -> JobStatus:
    """The state, progress, ETA and queue place of the job in ``run_dir``."""
    limits = limits or Limits.from_env()
    info = runs.load_run(run_dir)
    job = read_job(info.path)
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
        created=number(job.get("created"), info.updated),
        history=info.history,
        metrics=info.metrics,
        limit=limits.max_concurrent_trainings,
    )
    _fill_progress(js, info.config, state)
    js.resumable = state in ("failed", "stopped") and (info.path / runs.LAST).is_file() and info.epochs_done < epochs
    if state == "queued":
        queue = queue_of(info.path.parent)
        js.running = sum(1 for _, s in job_states(info.path.parent) if s == "running")
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
    for path in run_dirs(Path(runs_dir)):
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
