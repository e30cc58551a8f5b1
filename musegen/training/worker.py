"""The worker process of one training job (``python -m musegen.training.jobs RUN_DIR``): it waits for
a free slot in the queue, reads the data, trains, and records every failure in status.json."""

from __future__ import annotations

import contextlib
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from musegen import runs
from musegen.config import Limits, RunConfig
from musegen.datasets.dataset import build_dataset
from musegen.errors import MusegenError, RunNotFoundError
from musegen.sources.ingest import ingest_paths
from musegen.training.finetune import finetune_dataset, resolve_base
from musegen.training.jobqueue import LOG, job_states, locked, queue_of, read_job
from musegen.training.loop import train

POLL_S = 1.0  # how often a queued worker looks for a free slot
# A training worker runs at a lower CPU priority (a higher niceness): on a busy server the pages, the
# generation and the audio of everyone's sessions come first, and an idle machine still gives the training
# all it has. ``MUSEGEN_TRAINING_NICENESS`` (0 to 19) changes it; 0 keeps the app's own priority.
NICENESS_ENV = "MUSEGEN_TRAINING_NICENESS"
DEFAULT_NICENESS = 10


def training_niceness() -> int:
    """The niceness a training worker takes: ``MUSEGEN_TRAINING_NICENESS`` when it is a whole number from 0 to
    19, else :data:`DEFAULT_NICENESS`."""
    raw = os.environ.get(NICENESS_ENV, "").strip()
    return int(raw) if raw.isdigit() and int(raw) <= 19 else DEFAULT_NICENESS


def yield_cpu() -> None:
    """Lower this process's CPU priority by :func:`training_niceness` (where the system allows it)."""
    if (step := training_niceness()) and hasattr(os, "nice"):
        with contextlib.suppress(OSError):
            os.nice(step)


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
        with locked(runs_dir):
            running = sum(1 for _, s in job_states(runs_dir) if s == "running")
            queue = queue_of(runs_dir)
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
    job = read_job(run_dir)
    if job.get("resume"):  # the stored split (or the run's token store) and the last checkpoint
        dataset = runs.training_dataset(run_dir)
        _say(f"resuming {run_dir.name} from its last checkpoint")
        result = train(config, dataset, run_dir, on_progress=_print_epoch, resume=True)
        _say(f"{result.status}: {result.message}")
        return
    report = ingest_paths(job.get("data") or [], config.data)
    report.require_usable()
    max_pieces = job.get("max_pieces")
    pieces = report.pieces[:max_pieces] if max_pieces else report.pieces
    _say(f"{report.n_ok} usable files, {report.n_skipped} skipped; training on {len(pieces)} pieces")
    if config.base:  # fine-tuning: the pieces on the base's token ids
        dataset, coverage = finetune_dataset(pieces, config, resolve_base(config.base))
        _say(f"fine-tuning {Path(config.base).name}: {coverage.message()}")
    else:
        dataset = build_dataset(pieces, config.data)
    if runs.stop_requested(run_dir):
        runs.write_status(run_dir, "stopped", "stopped before training began")
        return
    result = train(config, dataset, run_dir, on_progress=_print_epoch)
    _say(f"{result.status}: {result.message}")


def _print_epoch(event: Any) -> None:
    if event.kind == "epoch":
        _say(f"epoch {event.epoch}/{event.epochs} loss {event.loss} val_loss {event.val_loss}")


def _say(line: str, stream: Any = None) -> None:
    """A line for worker.log; one the disk has no room for is dropped (status.json says what happened)."""
    with contextlib.suppress(OSError):
        print(line, file=stream or sys.stdout, flush=True)


def worker_main(run_dir: str | Path) -> int:
    """Entry of the worker process: queue, data, training; every failure lands in status.json."""
    run_dir = Path(run_dir).resolve()
    yield_cpu()
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
        _say(f"error: {exc}", sys.stderr)
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
        _say(f"cannot record the failure in {run_dir}: {exc}", sys.stderr)
