"""The Keras callback behind :func:`musegen.training.loop.train` (imports Keras; load it lazily).

One callback does the run bookkeeping, in this order at each step:

- batch end: record loss/accuracy, send a ``batch`` event, stop within this batch when a stop is
  requested (event or ``stop`` file) or the time budget is spent, write history.json every ~2 s;
- epoch end: record the epoch, save ``model.keras`` when the monitored loss improves and
  ``last.keras`` always (both atomic, chief only), early stopping, history.json, an ``epoch`` event.

With validation within epochs (``eval_every``, :mod:`musegen.training.subepoch`) the choice moves to
each validation: it is recorded in ``history.evals``, ``model.keras`` is saved when it improves and
patience counts validations; the epoch's ``val_loss`` is then its latest validation (the run's end
is always validated).

A write of the run folder that fails (the disk full, above all) ends the training with a StorageError
saying what could not be written and which epoch's checkpoint the run keeps to resume from
(:func:`musegen.runs.write_failure`); the files already there are untouched.
"""

from __future__ import annotations

import contextlib
import math
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import keras

from musegen import runs
from musegen.errors import StorageError, TrainingError
from musegen.records import BatchRecord, EpochRecord, EvalRecord, History

HISTORY_EVERY_S = 2.0
MAX_BATCH_POINTS = 4000  # per-batch history beyond this is thinned (every other point dropped)


class RunCallback(keras.callbacks.Callback):
    """Progress, stop, checkpoints, history and early stopping for one run."""

    def __init__(
        self,
        run_dir: Path,
        history: History,
        *,
        epochs: int,
        batches: int,
        samples: int,
        global_batch: int,
        tokens_per_sample: int,
        patience: int,
        max_minutes: float,
        chief: bool,
        emit: Callable[..., None],
        stop_event: threading.Event | None,
        subepoch: Any = None,
    ):
        super().__init__()
        self.run_dir, self.history, self.chief, self.emit = run_dir, history, chief, emit
        self.epochs, self.batches, self.samples, self.global_batch = epochs, batches, samples, global_batch
        self.tokens_per_sample, self.patience = tokens_per_sample, patience
        self.budget_s = max_minutes * 60.0 if max_minutes > 0 else math.inf
        self.stop_event = stop_event
        self.reason = ""  # why training ended early: "stop", "time", "early", ""
        self.elapsed_before = float(history.epochs[-1].elapsed_s) if history.epochs else 0.0
        self.wait = history.epochs_done - (history.best_epoch or 0) if history.epochs else 0
        if history.evals and history.best_at is not None:  # patience counted in validations
            self.wait = sum(e.epoch_fraction > history.best_at for e in history.evals)
        self.t0 = self.t_epoch = self.t_written = time.perf_counter()
        self.epoch = 0
        self.batches_run = 0  # in this session, for eta and throughput
        self.samples_run = 0
        self.checkpoint = self.recorded = history.epochs_done  # the epochs in last.keras and in history.json
        self.subepoch = subepoch  # validation within epochs (musegen/training/subepoch.py), or None
        self.val_last = history.epochs[-1].val_loss if history.epochs else None
        if subepoch is not None and history.evals is None:
            history.evals = []

    # -- timing -------------------------------------------------------------------------

    def _session_s(self) -> float:
        return time.perf_counter() - self.t0

    def _throughput(self) -> float:
        s = self._session_s()
        return self.samples_run * self.tokens_per_sample / s if s > 0 else 0.0

    def _eta(self, batch: int) -> float | None:
        if not self.batches_run:
            return None
        per_batch = self._session_s() / self.batches_run
        left = (self.batches - batch) + (self.epochs - self.epoch) * self.batches
        return min(left * per_batch, max(0.0, self.budget_s - self._session_s()))

    # -- Keras hooks ----------------------------------------------------------------------

    def on_train_begin(self, logs=None):
        self.t0 = self.t_written = time.perf_counter()
        if self.subepoch is not None:
            self.subepoch.start()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch + 1
        self.t_epoch = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        batch += 1
        self.batches_run += 1
        self.samples_run += min(self.global_batch, max(0, self.samples - (batch - 1) * self.global_batch))
        loss, acc = _num(logs.get("loss")), _num(logs.get("accuracy"))
        if loss is not None and not math.isfinite(loss):
            raise TrainingError(
                f"the loss became {loss} at epoch {self.epoch}, batch {batch}; lower the learning rate and train again."
            )
        elapsed = self.elapsed_before + self._session_s()
        self.history.batches.append(BatchRecord(self.epoch, batch, loss, acc, round(elapsed, 3)))
        if len(self.history.batches) > MAX_BATCH_POINTS:  # keeps history.json small enough to rewrite often
            self.history.batches = self.history.batches[1::2]
        self.emit(
            "batch",
            epoch=self.epoch,
            batch=batch,
            loss=loss,
            accuracy=acc,
            elapsed_s=elapsed,
            eta_s=self._eta(batch),
            tokens_per_s=self._throughput(),
        )
        if self._stop_asked():
            self.reason = "stop"
            self.model.stop_training = True
        elif self._session_s() >= self.budget_s:
            self.reason = "time"
            self.model.stop_training = True
        if self.subepoch is not None and self.subepoch.tick() and not self.model.stop_training:
            self._validate_within(batch)
        if time.perf_counter() - self.t_written >= HISTORY_EVERY_S:
            with self._writing(f"the training history of epoch {self.epoch}"):
                self._write_history()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        elapsed = self.elapsed_before + self._session_s()
        partial = bool(self.reason) and self.history.batches[-1].batch < self.batches
        if self.subepoch is not None:
            ending = self.model.stop_training or epoch + 1 >= self.epochs
            if (ending or self.history.best_value is None) and self.subepoch.batches_since:
                self._validate_within(self.history.batches[-1].batch if self.history.batches else self.batches)
            logs["val_loss"] = self.val_last  # the latest validation, for ReduceLROnPlateau and the record
        entry = EpochRecord(
            epoch=epoch + 1,
            loss=_num(logs.get("loss")),
            accuracy=_num(logs.get("accuracy")),
            val_loss=_num(logs.get("val_loss")),
            val_accuracy=_num(logs.get("val_accuracy")),
            elapsed_s=round(elapsed, 3),
            epoch_s=round(time.perf_counter() - self.t_epoch, 3),
            tokens_per_s=round(self._throughput(), 1),
            partial=partial,
        )
        self.history.epochs.append(entry)
        if self.subepoch is None:  # else each validation within the epoch chose already
            self._consider(self.history.value(entry), epoch + 1, f"the checkpoint of epoch {epoch + 1}")
        with self._writing(f"the checkpoint of epoch {epoch + 1}"):
            self._save(runs.LAST)
        self.checkpoint = epoch + 1
        if self.patience and self.wait >= self.patience and not self.reason:
            self.reason = "early"
            self.model.stop_training = True
        with self._writing(f"the training history of epoch {epoch + 1}"):
            self._write_history()
        self.recorded = epoch + 1
        self.emit(
            "epoch",
            epoch=epoch + 1,
            batch=self.history.batches[-1].batch if self.history.batches else 0,
            loss=entry.loss,
            val_loss=entry.val_loss,
            accuracy=entry.accuracy,
            val_accuracy=entry.val_accuracy,
            elapsed_s=elapsed,
            eta_s=0.0 if self.model.stop_training else self._eta(self.batches),
            tokens_per_s=entry.tokens_per_s,
        )
        if self.chief:
            with self._writing(f"the status of epoch {epoch + 1}"):
                runs.write_status(self.run_dir, "running", f"epoch {epoch + 1}/{self.epochs} done")

    # -- helpers --------------------------------------------------------------------------

    def _consider(self, value: float | None, epoch: int, what: str) -> bool:
        """Keep ``model.keras`` when ``value`` is the best so far (else one more wait); whether it was."""
        best = self.history.best_value
        if value is not None and math.isfinite(value) and (best is None or value < best):
            self.history.best_value, self.history.best_epoch = value, epoch
            self.wait = 0
            with self._writing(what):
                self._save(runs.MODEL)
            return True
        self.wait += 1
        return False

    def _validate_within(self, batch: int) -> None:
        """A validation within the epoch: recorded in ``history.evals``, the best model kept, patience counted."""
        value = self.subepoch.validate(self.model)
        fraction = round(self.epoch - 1 + batch / max(1, self.batches), 4)
        elapsed = round(self.elapsed_before + self._session_s(), 3)
        run_batches = (self.epoch - 1) * self.batches + batch
        assert self.history.evals is not None
        self.history.evals.append(EvalRecord(fraction, run_batches, value, elapsed))
        self.val_last = value
        if self._consider(value, self.epoch, f"the checkpoint at epoch {fraction:g}"):
            self.history.best_at = fraction
        if self.patience and self.wait >= self.patience and not self.reason:
            self.reason = "early"
            self.model.stop_training = True

    def _stop_asked(self) -> bool:
        return bool(self.stop_event is not None and self.stop_event.is_set()) or runs.stop_requested(self.run_dir)

    def _save(self, name: str) -> None:
        if self.chief:
            runs.atomic_save_model(self.model, self.run_dir / name)
            return
        # Other workers save too (saving may take part in collective ops), but to a throwaway folder.
        tmp = tempfile.mkdtemp(prefix="musegen-worker-")
        try:
            self.model.save(Path(tmp) / name)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    @contextlib.contextmanager
    def _writing(self, what: str) -> Iterator[None]:
        """A write of the run folder: one refused ends the training, saying what the run keeps."""
        try:
            yield
        except StorageError as exc:
            raise runs.write_failure(exc, what, self.checkpoint, self.recorded) from exc

    def _write_history(self) -> None:
        self.t_written = time.perf_counter()
        if self.chief:
            runs.write_history(self.run_dir, self.history)


def _num(value: Any) -> float | None:
    return None if value is None else float(value)
