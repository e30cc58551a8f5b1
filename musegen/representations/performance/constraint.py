"""The performance events' sampling-time rules: key and range, notes at once, note-offs only for sounding pitches."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from musegen.config import ConstraintConfig
from musegen.steering.chord_rule import ChordRule
from musegen.steering.constraints import Constraint, pitch_mask
from musegen.steering.infill import InfillPlan

if TYPE_CHECKING:
    from musegen.representations.performance.representation import PerformanceRepresentation


OTHER, SHIFT, NOTE_ON, NOTE_OFF, VELOCITY_KIND = 0, 1, 2, 3, 4


class PerformanceConstraint(Constraint):
    """The rules of performance events: key and range mask NoteOn pitches, ``max_polyphony`` masks every
    NoteOn while that many notes sound, and the grammar allows a NoteOff only for a sounding pitch and a
    NoteOn only for a silent one, and a Velocity event only just before a NoteOn (one may follow; not the
    loudness already set). TimeShift events are allowed but past a note's longest length (below), and then
    its NoteOff is, so no sequence is ever cornered.

    ``max_note_seconds`` releases every note that has sounded that long: a TimeShift that would carry a
    sounding note past it is masked, and at that instant only the NoteOffs of the notes due are allowed, so
    the events themselves let each note go (as Magenta's Performance RNN decoding caps a note's length).

    Each row tracks the pitches sounding, the time (steps) and when each began; a note turned off at the
    instant it began still counts towards the notes at once until time moves on (the decoder gives it
    10 ms). A chord progression (:mod:`musegen.steering.chord_rule`) starts where the generated music does,
    in beats at the decoded tempo (120 BPM), and narrows (or biases) the NoteOn pitches; with the bass rule
    the first note under a chord is on its bass and the notes struck at the same instant lie above it.

    In a middle (``plan``) the time starts at the span's start, with the notes the prompt's prefix leaves
    down still sounding (they count towards the notes at once, and the middle lets them go): notes begin
    only inside the span, the time adds up exactly to the suffix's first onset, where every note still
    down is let go, and then ``<fim_end>`` comes.
    """

    def __init__(self, rep: PerformanceRepresentation, cfg: ConstraintConfig, batch: int, plan: InfillPlan | None):
        super().__init__(batch)
        self.plan = plan
        sentinels = rep.vocab.fim_ids()
        self.fim = sentinels if plan is not None and sentinels else None
        vocab = rep.vocab
        kinds = {"TimeShift": SHIFT, "NoteOn": NOTE_ON, "NoteOff": NOTE_OFF, "Velocity": VELOCITY_KIND}
        self.kind = np.zeros(len(vocab), dtype=np.int8)
        self.value = np.zeros(len(vocab), dtype=np.int64)
        for i, token in enumerate(vocab.tokens):
            name, _, v = token.partition("_")
            if v.isdigit() and (name not in ("NoteOn", "NoteOff") or int(v) <= 127):
                self.kind[i] = kinds.get(name, OTHER)
                self.value[i] = int(v)
        self.static = np.isin(self.kind, (SHIFT, VELOCITY_KIND))
        self.on_ids = np.flatnonzero(self.kind == NOTE_ON)
        self.on_pitch = self.value[self.on_ids]
        self.on_ok = pitch_mask(cfg)[self.on_pitch]
        self.off_ids = np.flatnonzero(self.kind == NOTE_OFF)
        self.off_pitch = self.value[self.off_ids]
        self.grammar = bool(cfg.grammar)
        self.max_poly = int(cfg.max_polyphony)
        self.max_steps = round(float(cfg.max_note_seconds) * rep.tokenizer.steps_per_second)
        self.velocity_ids = np.flatnonzero(self.kind == VELOCITY_KIND)
        self.velocity_value = self.value[self.velocity_ids]
        self.loudness = np.full(self.batch, -1, dtype=np.int64)  # the last Velocity event's level
        self.after_velocity = np.zeros(self.batch, dtype=bool)
        self.shift_ids = np.flatnonzero(self.kind == SHIFT)
        self.shift_steps = self.value[self.shift_ids]
        self.sounding = np.zeros((self.batch, 128), dtype=bool)
        self.began = np.zeros((self.batch, 128), dtype=np.int64)
        self.now = np.zeros(self.batch, dtype=np.int64)
        self.flash = np.zeros(self.batch, dtype=np.int64)  # notes ended at the instant they began
        self.chords = ChordRule.of(cfg, pitch_mask(cfg), "the key and the pitch range")
        self.beats_per_step = rep.tokenizer.beats_per_step
        self.origin = np.zeros(self.batch, dtype=np.int64)
        self.chord_span = np.full(self.batch, -1, dtype=np.int64)  # the chord under which the last note began
        self.bass_at = np.zeros((self.batch, 2), dtype=np.int64)  # (time, pitch) of the first note under it

    def prime(self, prompt: np.ndarray) -> None:
        prompt = np.asarray(prompt)
        columns = range(prompt.shape[1])
        if self.fim is not None:  # a middle goes on from its prompt's prefix (<fim_prefix> ... <fim_middle>)
            row = prompt[0].tolist()
            first = row.index(self.fim[0]) + 1 if self.fim[0] in row else 0
            columns = range(first, row.index(self.fim[2]) if self.fim[2] in row else len(row))
        for t in columns:
            self.observe(prompt[:, t])
        self.origin = self.now.copy()
        self.chord_span[:] = -1
        if self.fim is not None:  # the middle's events begin with a Velocity of their own
            self.loudness[:] = -1
            self.after_velocity[:] = False

    def _beat(self, r: int) -> float:
        return (int(self.now[r]) - int(self.origin[r])) * self.beats_per_step

    def _chord_ok(self, on: np.ndarray) -> None:
        """Narrow ``on`` (B, NoteOns) to what the chord rule leaves each row now."""
        for r in range(self.batch):
            beat = self._beat(r)
            span = self.chords.span(beat)
            if (tones := self.chords.onset(beat, first=span != self.chord_span[r])) is not None:
                on[r] &= tones[self.on_pitch]
            if self.chords.bass and span == self.chord_span[r] and self.bass_at[r, 0] == self.now[r]:
                on[r] &= self.on_pitch > self.bass_at[r, 1]  # struck with the bass note: above it

    def bias(self) -> np.ndarray | None:
        """The soft chord rule: NoteOns off the chord lowered by its strength."""
        if self.chords is None:
            return None
        beats = [self._beat(r) for r in range(self.batch)]
        return self.chords.logit_bias(beats, len(self.kind), self.on_ids, self.on_pitch)

    def allowed(self) -> np.ndarray:
        mask = np.tile(self.static, (self.batch, 1))
        on = np.tile(self.on_ok, (self.batch, 1))
        if self.chords is not None:
            self._chord_ok(on)
        if self.grammar:
            on &= ~self.sounding[:, self.on_pitch]
        if self.max_poly:
            at_once = self.sounding.sum(axis=1) + self.flash
            on &= (at_once < self.max_poly)[:, None]
        mask[:, self.on_ids] = on
        mask[:, self.off_ids] = self.sounding[:, self.off_pitch] if self.grammar else True
        if self.grammar:
            self._velocity(mask, on)
        if self.max_steps:
            self._release(mask)
        if self.fim is not None:
            self._middle(mask)
        if not mask.any(axis=1).all():  # never expected: TimeShift is always allowed
            self.fallbacks += int((~mask.any(axis=1)).sum())
            mask[:, self.static] = True
        return mask

    def _velocity(self, mask: np.ndarray, on: np.ndarray) -> None:
        """A Velocity event only where a NoteOn may follow, never the loudness already set, and after one a
        NoteOn: the codec writes a Velocity just before the NoteOn it sets (a model whose NoteOns are masked
        would otherwise pile Velocity events up in their place)."""
        strike = on.any(axis=1)
        mask[:, self.velocity_ids] &= strike[:, None] & (self.velocity_value[None, :] != self.loudness[:, None])
        for r in np.flatnonzero(self.after_velocity & strike).tolist():
            mask[r] = False
            mask[r, self.on_ids] = on[r]

    def _release(self, mask: np.ndarray) -> None:
        """Narrow ``mask`` so that no note sounds past ``max_steps``: shifts only up to the next note's due
        time, and at that time only the NoteOffs of the notes due."""
        due = np.where(self.sounding, self.began + self.max_steps, np.iinfo(np.int64).max)
        room = due.min(axis=1) - self.now  # steps until the first sounding note is due
        mask[:, self.shift_ids] &= self.shift_steps[None, :] <= room[:, None]
        for r in np.flatnonzero(room <= 0).tolist():
            mask[r] = False
            mask[r, self.off_ids] = self.sounding[r, self.off_pitch] & (due[r, self.off_pitch] <= self.now[r])

    def _middle(self, mask: np.ndarray) -> None:
        """A middle's time: notes begin inside the span, shifts land at the suffix's first onset at the
        latest; there every note still down is let go, then ``<fim_end>`` (and only it, once drawn)."""
        plan, end = self.plan, self.fim[3]
        t = self.now - self.origin
        mask[:, self.on_ids] &= (t < plan.span)[:, None]
        mask[:, self.velocity_ids] &= (t < plan.span)[:, None]
        mask[:, self.shift_ids] &= self.shift_steps[None, :] <= (plan.gap - t)[:, None]
        for r in np.flatnonzero((t >= plan.gap) | self.done).tolist():
            mask[r] = False
            down = self.sounding[r, self.off_pitch] & ~self.done[r]
            mask[r, self.off_ids] = down
            mask[r, end] = not down.any()

    def _end(self, r: int, pitch: int) -> None:
        if self.sounding[r, pitch]:
            self.sounding[r, pitch] = False
            self.flash[r] += int(self.began[r, pitch] == self.now[r])

    def observe(self, drawn: np.ndarray) -> None:
        for r, i in enumerate(np.asarray(drawn).reshape(-1).tolist()):
            if self.fim is not None and (self.done[r] or i == self.fim[3]):
                self.done[r] = True
                continue
            if not 0 <= i < len(self.kind):
                continue
            kind, value = int(self.kind[i]), int(self.value[i])
            self.after_velocity[r] = kind == VELOCITY_KIND
            if kind == VELOCITY_KIND:
                self.loudness[r] = value
            if kind == SHIFT:
                self.now[r] += value
                self.flash[r] = 0
            elif kind == NOTE_ON:
                if self.chords is not None and (span := self.chords.span(self._beat(r))) != self.chord_span[r]:
                    self.chord_span[r] = span
                    self.bass_at[r] = (self.now[r], value)
                self._end(r, value)  # a sounding pitch struck again ends its earlier note
                self.sounding[r, value] = True
                self.began[r, value] = self.now[r]
            elif kind == NOTE_OFF:
                self._end(r, value)
