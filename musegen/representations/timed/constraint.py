"""The timed tokens' sampling-time rules: key, range, notes at once, the TSD grammar, a middle's time."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from musegen.config import ConstraintConfig
from musegen.steering.chord_rule import ChordRule
from musegen.steering.constraints import Constraint, pitch_mask
from musegen.steering.infill import InfillPlan

if TYPE_CHECKING:
    from musegen.representations.timed.representation import TimedRepresentation

SHIFT, PITCH_KIND, DURATION, VELOCITY_KIND, OTHER = 1, 2, 3, 4, 0


class TimedConstraint(Constraint):
    """The rules of TSD tokens: key, range, notes at once, grammar, and an infilled middle's time.

    Each row tracks the time cursor (grid steps), the kind of its last token, the highest pitch at
    the current onset and the ends of the notes it has started. The grammar is the tokenizer's own:
    a Duration follows every Pitch (with velocity: a Velocity, then the Duration) and only then; pitches
    at one onset rise; a TimeShift shorter than
    the longest is followed by a Pitch. A TimeShift is allowed only to a time where a pitch can be
    placed (fewer notes sounding than the limit), so the rules never corner a sequence. In a middle
    (``plan``) notes begin only inside the span, the time adds up exactly to the suffix's first note,
    and ``<fim_end>`` comes when it does; the grammar always holds there. A chord progression
    (:mod:`musegen.steering.chord_rule`) starts where the generated music does (the seed's time cursor, or
    the span's start) and narrows the pitches of every note begun under a chord (or biases them).
    """

    def __init__(self, rep: TimedRepresentation, cfg: ConstraintConfig, batch: int, plan: InfillPlan | None):
        super().__init__(batch)
        vocab = rep.vocab
        self.max_steps = rep.tokenizer.max_steps
        self.default = rep.tokenizer.steps_per_beat  # steps of a pitch left without its duration (one beat)
        self.kind = np.zeros(len(vocab), dtype=np.int8)
        self.value = np.zeros(len(vocab), dtype=np.int64)
        for i, token in enumerate(vocab.tokens):
            name, _, v = token.partition("_")
            if v.isdigit():
                kinds = {"TimeShift": SHIFT, "Pitch": PITCH_KIND, "Duration": DURATION, "Velocity": VELOCITY_KIND}
                self.kind[i] = kinds.get(name, OTHER)
                self.value[i] = int(v)
        self.shift_id = {int(self.value[i]): i for i in np.flatnonzero(self.kind == SHIFT)}
        self.durations = np.flatnonzero(self.kind == DURATION)
        self.velocities = np.flatnonzero(self.kind == VELOCITY_KIND)  # empty without velocity tokens
        self.shift_ids = np.flatnonzero(self.kind == SHIFT)
        self.shift_values = self.value[self.shift_ids]
        allowed_pitch = pitch_mask(cfg)
        pitches = np.flatnonzero(self.kind == PITCH_KIND)
        keep = allowed_pitch[np.clip(self.value[pitches], 0, 127)]
        self.pitch_ids, self.pitch_values = pitches[keep], self.value[pitches[keep]]
        self.max_poly = int(cfg.max_polyphony)
        self.grammar = bool(cfg.grammar) or plan is not None
        self.plan = plan
        sentinels = vocab.fim_ids()
        self.end = sentinels[3] if sentinels else -1
        self.width = len(vocab)
        self.cursor = np.zeros(self.batch, dtype=np.int64)
        self.last = np.full(self.batch, OTHER, dtype=np.int8)
        self.last_value = np.zeros(self.batch, dtype=np.int64)
        self.top = np.full(self.batch, -1, dtype=np.int64)  # highest pitch at the current onset
        carry = [] if plan is None else [int(x) for x in np.asarray(plan.carry).tolist()]
        self.ends: list[list[int]] = [list(carry) for _ in range(self.batch)]
        self.pending = np.zeros(self.batch, dtype=bool)  # a Pitch waiting for its Duration
        available = np.zeros(128, dtype=bool)
        available[np.clip(self.pitch_values, 0, 127)] = True
        self.chords = ChordRule.of(cfg, available, "the key, the range and the pitches this model knows")
        self.steps_per_beat = rep.tokenizer.steps_per_beat
        self.origin = np.zeros(self.batch, dtype=np.int64)  # where the progression starts: the generated music's
        self.chord_span = np.full(self.batch, -1, dtype=np.int64)  # the chord under which the row's last note began

    def prime(self, prompt: np.ndarray) -> None:
        if self.plan is not None:
            return  # a middle starts at its span's start, whatever the prompt
        for t in range(prompt.shape[1]):
            self.observe(prompt[:, t])
        self.origin = self.cursor.copy()
        self.chord_span[:] = -1

    def allowed(self) -> np.ndarray:
        mask = np.zeros((self.batch, self.width), dtype=bool)
        for r in range(self.batch):
            self._row(r, mask[r])
            if not mask[r].any():  # never expected; a way out that keeps the sequence readable
                self.fallbacks += 1
                mask[r, self.end if self.plan is not None else self.shift_id[self.max_steps]] = True
        return mask

    def _placeable(self, r: int, at: np.ndarray) -> np.ndarray:
        """For each time of ``at``: whether a new note may begin there (inside the span, under the limit)."""
        ok = np.ones(len(at), dtype=bool)
        if self.plan is not None:
            ok &= at < self.plan.span
        if self.max_poly:
            ends = np.asarray(self.ends[r], dtype=np.int64)
            sounding = (ends[None, :] > at[:, None]).sum(axis=1) + int(self.pending[r])
            ok &= sounding < self.max_poly
        return ok

    def _row(self, r: int, m: np.ndarray) -> None:
        plan = self.plan
        if self.done[r]:
            m[self.end] = True
            return
        if self.grammar and self.last[r] == PITCH_KIND:
            m[self.velocities if len(self.velocities) else self.durations] = True
            return
        if self.grammar and self.last[r] == VELOCITY_KIND:
            m[self.durations] = True
            return
        if not self.grammar:  # durations and velocities anywhere: the decoder repairs what is out of place
            m[self.durations] = True
            m[self.velocities] = True
        cursor = int(self.cursor[r])
        if self._placeable(r, np.array([cursor]))[0]:
            ok = self.pitch_values > self.top[r] if self.grammar else np.ones(len(self.pitch_ids), dtype=bool)
            if self.chords is not None and (tones := self._chord_tones(r)) is not None:
                ok &= tones[np.clip(self.pitch_values, 0, 127)]
            m[self.pitch_ids[ok]] = True
        if plan is not None and cursor == plan.gap:
            m[self.end] = True  # the middle reached the suffix: it ends here
        if self.grammar and self.last[r] == SHIFT and self.last_value[r] < self.max_steps:
            return  # a short shift is always followed by a pitch (or, at the suffix, the end)
        land = cursor + self.shift_values
        longest = self.shift_values == self.max_steps
        if plan is not None:
            ok = (land <= plan.gap) & (longest | (land == plan.gap) | self._placeable(r, land))
        elif self.grammar:
            ok = longest | self._placeable(r, land)
        else:
            ok = np.ones(len(land), dtype=bool)
        m[self.shift_ids[ok]] = True

    def _beat(self, r: int) -> float:
        return (int(self.cursor[r]) - int(self.origin[r])) / self.steps_per_beat

    def _chord_tones(self, r: int) -> np.ndarray | None:
        """(128,) bool: the pitches the chord rule leaves a note begun now in row ``r``; None: any."""
        beat = self._beat(r)
        return self.chords.onset(beat, first=self.chords.span(beat) != self.chord_span[r])

    def bias(self) -> np.ndarray | None:
        """The soft chord rule: the pitch tokens off the chord at each row's cursor lowered by its strength."""
        if self.chords is None:
            return None
        beats = [self._beat(r) for r in range(self.batch)]
        return self.chords.logit_bias(beats, self.width, self.pitch_ids, np.clip(self.pitch_values, 0, 127))

    def observe(self, drawn: np.ndarray) -> None:
        for r, i in enumerate(np.asarray(drawn).reshape(-1).tolist()):
            if self.done[r]:
                continue
            if i == self.end and self.plan is not None:
                self.done[r] = True
                continue
            kind, value = int(self.kind[i]), int(self.value[i])
            if kind in (SHIFT, PITCH_KIND) and self.pending[r]:  # the decoder gives it one beat (without grammar)
                self.ends[r].append(int(self.cursor[r]) + self.default)
                self.pending[r] = False
            if kind == SHIFT:
                self.cursor[r] += value
                self.top[r] = -1
                now = int(self.cursor[r])
                self.ends[r] = [end for end in self.ends[r] if end > now]
            elif kind == PITCH_KIND:
                self.top[r] = max(int(self.top[r]), value)
                self.pending[r] = True
                if self.chords is not None:
                    self.chord_span[r] = self.chords.span(self._beat(r))
            elif kind == DURATION and self.pending[r]:
                self.ends[r].append(int(self.cursor[r]) + value)
                self.pending[r] = False
            self.last[r], self.last_value[r] = kind, value
