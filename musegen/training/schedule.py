"""Model selection and the learning rate of a run with a time budget (issue 32): the arithmetic, no TensorFlow.

When one epoch costs a large share of ``max_minutes`` (MuseData in 12 keys: more than half of 12 minutes),
validating once per epoch leaves early stopping and best-model selection almost nothing to choose from.
``TrainConfig.eval_every`` therefore validates within epochs (every N batches, or "auto": by time,
:func:`auto_interval_s`), and ``TrainConfig.lr_schedule = "budget"`` ties the learning rate to the time
left (:func:`budget_rate`). The callback that applies both is :mod:`musegen.training.subepoch`.

The budget curve holds the base rate, then decays it along a half cosine over the last
``DECAY_SHARE`` of the budget down to ``FLOOR`` of the base rate. A linear warm-up and a cosine over
the whole run were measured before on JSB (3-minute LSTM-NADE runs, CPU) and did worse than this
hold-then-decay: the warm-up spends a budget that is short already, and the whole-run cosine lowers
the rate while the model is still far from a minimum.
"""

from __future__ import annotations

import math

DECAY_SHARE = 0.2  # the last fifth of the budget decays the rate
FLOOR = 0.05  # the rate at the budget's end, as a share of the base rate
EVALS_PER_BUDGET = 20  # validations the auto interval aims at within one budget
EVAL_SHARE = 0.05  # at most this share of the time goes to validation
MIN_INTERVAL_S = 5.0  # never validate more often than this, however cheap it is
NO_BUDGET_INTERVAL_S = 60.0  # the auto interval of a run without a time limit (at least)
SELECTION_FRAMES = 16_384  # validation sets above this are subsampled for the validations within epochs
FRAMES_PER_S = 20_000.0  # a rough validation speed (frames scored per second; a CPU, a small model)


def budget_rate(elapsed_s: float, budget_s: float, *, decay_share: float = DECAY_SHARE, floor: float = FLOOR) -> float:
    """The learning-rate multiplier ``elapsed_s`` into a budget of ``budget_s`` seconds: 1.0 until the last
    ``decay_share`` of it, then a half cosine down to ``floor`` at its end (and ``floor`` after it).
    Without a budget (``budget_s <= 0``) it is 1.0 throughout."""
    if budget_s <= 0 or not math.isfinite(budget_s):
        return 1.0
    start = budget_s * (1.0 - decay_share)
    if elapsed_s <= start:
        return 1.0
    progress = min(1.0, (elapsed_s - start) / max(budget_s - start, 1e-9))
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def auto_interval_s(max_minutes: float, eval_seconds: float) -> float:
    """Seconds between validations of ``eval_every = -1``: about ``EVALS_PER_BUDGET`` per budget, but
    validation (``eval_seconds`` each) taking at most ``EVAL_SHARE`` of the time, and no more often than
    every ``MIN_INTERVAL_S``. Without a budget (``max_minutes`` 0): every ``NO_BUDGET_INTERVAL_S`` at least."""
    by_cost = max(0.0, eval_seconds) / EVAL_SHARE
    if max_minutes <= 0:
        return max(NO_BUDGET_INTERVAL_S, by_cost)
    return max(MIN_INTERVAL_S, max_minutes * 60.0 / EVALS_PER_BUDGET, by_cost)


def eval_seconds_guess(frames: int, frames_per_s: float = FRAMES_PER_S) -> float:
    """A first guess of one validation's seconds from the frames (or tokens) it scores; the callback
    replaces it by the measured time after the first validation."""
    return max(0.0, frames) / frames_per_s


def selection_stride(frames: int, limit: int = SELECTION_FRAMES) -> int:
    """k for validating within epochs on every k-th validation window: 1 up to ``limit`` frames, else the
    smallest k that brings the set to about ``limit`` frames. A fixed subset, so its losses compare."""
    return 1 if frames <= limit else math.ceil(frames / limit)


def due(mode: int, batches_since: int, seconds_since: float, interval_s: float) -> bool:
    """Whether a validation within the epoch is due: every ``mode`` batches (mode > 0), or by time (-1)."""
    if mode > 0:
        return batches_since >= mode
    return mode < 0 and seconds_since >= interval_s


def frames_of(pieces: object) -> int:
    """Frames (piano rolls) or tokens of the validation pieces; 0 when they cannot be counted (a store)."""
    try:
        return int(sum(len(p) for p in pieces))  # type: ignore[attr-defined]
    except TypeError:
        return 0
