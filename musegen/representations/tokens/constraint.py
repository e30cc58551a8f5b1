"""Sampling-time rules over tokens that are each a whole event (the classic notes and chords)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from musegen.config import ConstraintConfig
from musegen.errors import ConfigError
from musegen.steering.constraints import Constraint, pitch_mask
from musegen.steering.infill import InfillPlan

if TYPE_CHECKING:
    from musegen.representations.tokens.representation import TokenRepresentation


class EventConstraint(Constraint):
    """Rules over tokens that are each a whole event (the classic notes and chords).

    An event is allowed when all its pitches are allowed (key and range) and it has at most
    ``max_polyphony`` notes; specials and rests are always allowed. An infilled middle is exactly its
    span's events long, then ``<fim_end>``.
    """

    def __init__(self, rep: TokenRepresentation, cfg: ConstraintConfig, batch: int, plan: InfillPlan | None):
        super().__init__(batch)
        if cfg.chords.strip():
            raise ConfigError(
                "the classic tokens have no beats (every event lasts half a beat), so a chord progression cannot "
                "be placed under them; generate with a timed, performance or piano-roll run."
            )
        allowed_pitch = pitch_mask(cfg)
        width = len(rep.vocab)
        self.static = np.ones(width, dtype=bool)
        for i, token in enumerate(rep.vocab.tokens):
            pitches = rep.event_pitches(token)
            if pitches is None:
                continue
            ok = all(allowed_pitch[p] for p in pitches)
            if cfg.max_polyphony and len(pitches) > cfg.max_polyphony:
                ok = False
            self.static[i] = ok
        self.plan = plan
        self.count = np.zeros(self.batch, dtype=np.int64)
        sentinels = rep.vocab.fim_ids()
        self.end = sentinels[3] if sentinels else -1
        if sentinels:
            self.static[list(sentinels)] = False

    def allowed(self) -> np.ndarray:
        mask = np.tile(self.static, (self.batch, 1))
        if self.plan is not None:
            full = self.done | (self.count >= self.plan.span)
            mask[full] = False
            mask[full, self.end] = True
        return mask

    def observe(self, drawn: np.ndarray) -> None:
        drawn = np.asarray(drawn).reshape(-1)
        if self.plan is not None:
            self.done |= drawn == self.end
        self.count += ~self.done
