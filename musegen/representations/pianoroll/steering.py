"""The piano roll's steering: one Bernoulli draw per key, and the rules that mask keys."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from musegen.config import ConstraintConfig, SamplingConfig
from musegen.errors import ConfigError, TrainingError
from musegen.notes import LOWEST_PIANO_PITCH
from musegen.representations.pianoroll.codec import N_KEYS
from musegen.steering.chord_rule import ChordRule
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
    """Key and range as keys forced off, notes at once as a cap on the keys on per frame, a chord
    progression as the keys a note may begin on.

    The cap is the sampling step's own ``top_k`` (at most k keys sound; the smaller of the two wins):
    for independent keys the k likeliest are the candidates, with the NADE head the first k drawn
    from low to high. With the NADE head the keys are forced off inside its key-by-key draw, so every
    key above is drawn given the ones below as they really are.

    A chord progression (:mod:`musegen.steering.chord_rule`) starts at the first generated frame. A key
    that was off in the frame before (every key of the first frame) begins a note: in hard mode only a
    chord tone may (a key that is on goes on sounding); in soft mode a key off the chord may begin with
    chance ``e**-strength`` of what the model gives it (each such key kept possible with that chance, by
    the sampling's random draw).
    The bass rule: in the first frame of each chord a new note begins on its bass (the octave at or below the
    lowest key that begins there, else the one nearest C3, among the keys the rules allow and that were off),
    and no new note begins below it; a key above the cap of notes at once gives way to it. Frames have no
    order of notes, so it is set after the draw (with the NADE head the keys above were drawn without it).
    """

    def __init__(self, cfg: ConstraintConfig, batch: int, steps_per_beat: int = 1):
        super().__init__(batch)
        self.keys = pitch_mask(cfg)[LOWEST_PIANO_PITCH : LOWEST_PIANO_PITCH + N_KEYS]
        if not self.keys.any():
            raise ConfigError(f"no piano key is within pitches {cfg.low}-{cfg.high} and {cfg.key or 'the range'}.")
        self.max_poly = int(cfg.max_polyphony)
        available = np.zeros(128, dtype=bool)
        available[LOWEST_PIANO_PITCH : LOWEST_PIANO_PITCH + N_KEYS] = self.keys
        self.chords = ChordRule.of(cfg, available, "the piano's keys, the key and the pitch range")
        self.steps_per_beat = int(steps_per_beat)
        self.frame = 0  # frames generated so far: the progression starts at the first
        self.bass = bool(cfg.chord_bass) and self.chords is not None
        # the frame before, per row; before the first, none: a key the seed holds begins a note of the continuation
        self.before = np.zeros((self.batch, N_KEYS), dtype=bool)

    def allowed(self, rng: np.random.Generator | None = None) -> np.ndarray:
        mask = np.tile(self.keys, (self.batch, 1))
        if self.chords is None:
            return mask
        beat = self.frame / self.steps_per_beat
        keys = slice(LOWEST_PIANO_PITCH, LOWEST_PIANO_PITCH + N_KEYS)
        if (tones := self.chords.onset(beat, first=False)) is not None:
            mask &= tones[keys] | self.before
        elif self.chords.bias(beat) is not None and rng is not None:
            off_chord = self.chords.bias(beat)[keys] < 0
            dropped = off_chord & ~self.before & (rng.random(mask.shape) >= self.chords.keep_chance())
            mask &= ~dropped
        return mask

    def place_bass(self, drawn: np.ndarray) -> np.ndarray:
        """``drawn`` with each chord's bass begun in the chord's first frame (the rule in the class text)."""
        beat = self.frame / self.steps_per_beat
        index = self.chords.span(beat) if self.chords is not None else -1
        first = index >= 0 and (self.frame == 0 or self.chords.span((self.frame - 1) / self.steps_per_beat) != index)
        bass = self.chords.onset(beat, first=True) if first else None
        if bass is None:
            return drawn
        out = np.asarray(drawn).reshape(self.batch, N_KEYS).copy()
        on_bass = bass[LOWEST_PIANO_PITCH : LOWEST_PIANO_PITCH + N_KEYS] & self.keys
        for row in range(self.batch):
            free = np.flatnonzero(on_bass & ~self.before[row])
            if free.size == 0:
                self.fallbacks += 1
                continue
            new = np.flatnonzero(out[row].astype(bool) & ~self.before[row])
            below = free[free <= new[0]] if new.size else free[:0]
            key = int(below[-1]) if below.size else int(free[np.argmin(np.abs(free - (48 - LOWEST_PIANO_PITCH)))])
            out[row, new[new < key]] = 0
            out[row, key] = 1
            over = int(out[row].sum()) - self.max_poly if self.max_poly else 0
            if over > 0:
                out[row, [k for k in np.flatnonzero(out[row]) if k != key][-over:]] = 0
        return out.reshape(np.shape(drawn))

    def observe(self, drawn: np.ndarray) -> None:
        self.before = np.asarray(drawn).reshape(self.batch, N_KEYS).astype(bool)
        self.frame += 1

    def _capped(self, cfg: SamplingConfig) -> SamplingConfig:
        if not self.max_poly:
            return cfg
        return dataclasses.replace(cfg, top_k=min(cfg.top_k, self.max_poly) if cfg.top_k else self.max_poly)

    def wrap(self, draw: DrawFn, stepper: Any = None) -> DrawFn:
        nade = getattr(stepper, "draw", None)

        def constrained(logits: np.ndarray, cfg: SamplingConfig, rng: np.random.Generator) -> np.ndarray:
            cfg = self._capped(cfg)
            allowed = self.allowed(rng)
            if nade is not None:  # NADE: ``logits`` are the backbone's features; the head draws the keys
                drawn = nade(logits, cfg, rng, allowed=allowed.astype(np.float32))
            else:
                drawn = draw(np.where(allowed, logits, -np.inf), cfg, rng)
            if self.bass:
                drawn = self.place_bass(drawn)
            self.observe(drawn)
            return drawn

        return constrained
