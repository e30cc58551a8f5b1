"""The piano roll's steering: one Bernoulli draw per key, and the rules that mask keys."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from musegen.config import ConstraintConfig, SamplingConfig
from musegen.errors import ConfigError, TrainingError
from musegen.notes import LOWEST_PIANO_PITCH
from musegen.representations.pianoroll.codec import N_KEYS
from musegen.steering.constraints import Constraint, DrawFn, pitch_mask


def sample_frames(logits: np.ndarray, cfg: SamplingConfig, rng: np.random.Generator) -> np.ndarray:
    """One frame per row of ``logits`` (B, 88): every key an independent Bernoulli draw.

    ``temperature`` divides the logits (below 1: only the likeliest keys sound); greedy or
    temperature 0 sounds every key with probability above one half. ``top_k`` > 0 lets at most
    the k likeliest keys sound; ``top_p`` does not apply to independent keys and is ignored.
    """
    z = np.array(logits, dtype=np.float64, ndmin=2)
    if np.isnan(z).any():
        raise TrainingError("the model produced NaN scores; it has diverged. Retrain with a lower learning rate.")
    if 0 < cfg.top_k < z.shape[1]:  # exactly k candidates per frame, ties broken by position
        best = np.argpartition(-z, cfg.top_k - 1, axis=1)[:, : cfg.top_k]
        keep = np.zeros(z.shape, dtype=bool)
        np.put_along_axis(keep, best, True, axis=1)
        z = np.where(keep, z, -np.inf)
    if cfg.greedy or cfg.temperature == 0:
        return (z > 0).astype(np.uint8)
    p = 1.0 / (1.0 + np.exp(-z / cfg.temperature))
    return (rng.random(p.shape) < p).astype(np.uint8)


class FrameConstraint(Constraint):
    """Key and range as keys forced off, notes at once as a cap on the keys on per frame.

    The cap is the sampling step's own ``top_k`` (at most k keys sound; the smaller of the two wins):
    for independent keys the k likeliest are the candidates, with the NADE head the first k drawn
    from low to high. With the NADE head the keys are forced off inside its key-by-key draw, so every
    key above is drawn given the ones below as they really are.
    """

    def __init__(self, cfg: ConstraintConfig, batch: int):
        super().__init__(batch)
        self.keys = pitch_mask(cfg)[LOWEST_PIANO_PITCH : LOWEST_PIANO_PITCH + N_KEYS]
        if not self.keys.any():
            raise ConfigError(f"no piano key is within pitches {cfg.low}-{cfg.high} and {cfg.key or 'the range'}.")
        self.max_poly = int(cfg.max_polyphony)

    def allowed(self) -> np.ndarray:
        return np.tile(self.keys, (self.batch, 1))

    def observe(self, drawn: np.ndarray) -> None:
        pass

    def _capped(self, cfg: SamplingConfig) -> SamplingConfig:
        if not self.max_poly:
            return cfg
        return dataclasses.replace(cfg, top_k=min(cfg.top_k, self.max_poly) if cfg.top_k else self.max_poly)

    def wrap(self, draw: DrawFn, stepper: Any = None) -> DrawFn:
        nade = getattr(stepper, "draw", None)

        def constrained(logits: np.ndarray, cfg: SamplingConfig, rng: np.random.Generator) -> np.ndarray:
            cfg = self._capped(cfg)
            if nade is not None:  # NADE: ``logits`` are the backbone's features; the head draws the keys
                return nade(logits, cfg, rng, allowed=self.allowed().astype(np.float32))
            return draw(np.where(self.allowed(), logits, -np.inf), cfg, rng)

        return constrained
