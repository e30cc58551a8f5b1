"""Validation within epochs and the time-budget learning rate (issue 32; imports Keras, load it lazily).

- :class:`SubEpoch` validates the model every ``eval_every`` batches, or by time (``eval_every = -1``,
  :func:`musegen.training.schedule.auto_interval_s`), for the run's :class:`RunCallback`, which records
  each validation in ``History.evals``, keeps ``model.keras`` at the best of them and counts early
  stopping's patience in validations. A validation set above ``SELECTION_FRAMES`` frames is scored on a
  fixed subset (every k-th window) during training; the held-out evaluation at the end
  (``metrics.json``) scores the best model on all of it. The training metrics' running means are
  saved before each validation and restored after it, so the epoch's loss curve is not disturbed.
- :class:`BudgetRate` sets the optimizer's learning rate before every batch from the time spent in
  this call of ``train`` (:func:`budget_rate`); a halving by ``ReduceLROnPlateau`` is kept on top.

Under ``tf.distribute`` (``fit_distributed``) validation stays at epoch ends: a validation within an
epoch would have to be a collective step that every worker agrees to run at the same batch. A
multi-worker run keeps a constant rate too (every worker would read its own clock).
"""

from __future__ import annotations

import math
import time
from typing import Any

import keras

from musegen.config import RunConfig
from musegen.training.schedule import (
    auto_interval_s,
    budget_rate,
    due,
    eval_seconds_guess,
    selection_stride,
)


class SubEpoch:
    """When and on what a run validates within its epochs."""

    def __init__(self, val_ds: Any, *, mode: int, max_minutes: float, frames: int):
        self.mode, self.max_minutes = mode, max_minutes
        self.stride = selection_stride(frames)
        self.val_ds = _every_kth(val_ds, self.stride) if self.stride > 1 else val_ds
        self.eval_s = eval_seconds_guess(frames // self.stride)
        self.interval_s = auto_interval_s(max_minutes, self.eval_s)
        self.batches_since = 0
        self.t_last = time.perf_counter()

    def start(self) -> None:
        self.batches_since, self.t_last = 0, time.perf_counter()

    def tick(self) -> bool:
        """One batch trained; whether a validation is due now."""
        self.batches_since += 1
        return due(self.mode, self.batches_since, time.perf_counter() - self.t_last, self.interval_s)

    def validate(self, model: Any) -> float | None:
        """The validation loss of ``model`` now, the training metrics left as they were."""
        t = time.perf_counter()
        saved = [(v, v.numpy()) for m in model.metrics for v in m.variables]
        try:
            logs = model.evaluate(self.val_ds, verbose=0, return_dict=True)
        finally:
            for variable, value in saved:
                variable.assign(value)
        self.eval_s = time.perf_counter() - t  # the measured cost replaces the guess
        self.interval_s = auto_interval_s(self.max_minutes, self.eval_s)
        self.batches_since, self.t_last = 0, time.perf_counter()
        loss = logs.get("loss")
        return None if loss is None else float(loss)


class BudgetRate(keras.callbacks.Callback):
    """The learning rate of ``lr_schedule = "budget"``: ``base`` x :func:`budget_rate` of this call's time."""

    def __init__(self, base: float, max_minutes: float):
        super().__init__()
        self.base, self.budget_s = float(base), max_minutes * 60.0
        self.factor = 1.0  # what ReduceLROnPlateau took off, kept under the schedule
        self.last: float | None = None
        self.t0 = time.perf_counter()

    def on_train_begin(self, logs: Any = None) -> None:
        self.t0 = time.perf_counter()

    def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
        optimizer = self.model.optimizer
        current = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
        if self.last is not None and not math.isclose(current, self.last, rel_tol=1e-4):
            self.factor *= current / self.last  # someone else (a plateau) changed it since
        rate = self.base * self.factor * budget_rate(time.perf_counter() - self.t0, self.budget_s)
        optimizer.learning_rate = rate
        self.last = rate


def make_subepoch(config: RunConfig, val_ds: Any | None, frames: int) -> SubEpoch | None:
    """The run's validation within epochs; None at epoch ends only (eval_every 0, no validation data,
    or tf.distribute)."""
    train = config.train
    if not train.eval_every or val_ds is None or train.distribute:
        return None
    return SubEpoch(val_ds, mode=train.eval_every, max_minutes=train.max_minutes, frames=frames)


def rate_callbacks(config: RunConfig) -> list[Any]:
    """The budget schedule's callback, when the run has one. Not across workers: each would read its own
    clock and set a slightly different rate, and their weights would drift apart."""
    train = config.train
    if train.lr_schedule != "budget" or train.max_minutes <= 0 or train.distribute == "multiworker":
        return []
    return [BudgetRate(train.learning_rate, train.max_minutes)]


def _every_kth(val_ds: Any, k: int) -> Any:
    """Every k-th window of each validation batch (the first one of each batch kept): a fixed subset."""
    import tensorflow as tf

    return val_ds.map(lambda *parts: tf.nest.map_structure(lambda a: a[::k], parts))
