"""The timed representation: TSD tokens (Time-Shift-Duration, MidiTok; Fradet et al. 2021).

Notes sorted by onset then pitch, a ``TimeShift_n`` token whenever the onset moves on (``n``
grid steps; longer gaps are chained), then ``Pitch_p`` and ``Duration_n`` for each note. With
velocity (``DataConfig.velocity``) a ``Velocity_v`` token sits between them (MidiTok's order), ``v``
the nearest of ``velocity_bins`` levels (:func:`musegen.notes.velocity_levels`); without it notes
decode at one loudness. Times are quantized to ``steps_per_beat`` (4 = sixteenth notes, 12 =
sixteenths and eighth-note triplets). Decoding quantized music gives back the same notes, onsets,
durations (and velocity levels). The vocabulary is closed: it depends on the settings, not on the
data; the Velocity tokens come after all others, so a vocabulary without them is the same as before.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from musegen.config import ConstraintConfig, DataConfig
from musegen.notes import (
    DEFAULT_VELOCITY,
    END,
    PITCH,
    START,
    VELOCITY,
    Piece,
    make_notes,
    velocity_bin,
    velocity_levels,
)
from musegen.representations.tokens import TokenRepresentation
from musegen.steering.constraints import Constraint, pitch_mask
from musegen.steering.infill import InfillPlan, check_span, context_budget
from musegen.streams.fim import FimParts, psm
from musegen.vocabulary import BOS_ID, SPECIALS, Vocabulary

GRID_WORDS = {4: "sixteenth", 8: "32nd-note", 12: "sixteenth-and-triplet"}


def quantize(piece: Piece, steps_per_beat: int, max_steps: int) -> np.ndarray:
    """Integer (N, 4) array [onset_step, duration_steps, pitch, velocity], sorted, duplicates removed.

    Durations are at least one step and at most ``max_steps``: what the timed tokens keep.
    """
    if not len(piece.notes):
        return np.zeros((0, 4), dtype=np.int64)
    onset = np.round(piece.notes[:, START] * steps_per_beat).astype(np.int64)
    offset = np.round(piece.notes[:, END] * steps_per_beat).astype(np.int64)
    dur = np.clip(offset - onset, 1, max_steps)
    vel = np.clip(np.round(piece.notes[:, VELOCITY]), 1, 127).astype(np.int64)
    q = np.stack([onset, dur, piece.notes[:, PITCH].astype(np.int64), vel], axis=1)
    q = q[np.lexsort((q[:, 2], q[:, 0]))]
    keep = np.ones(len(q), dtype=bool)
    keep[1:] = (q[1:, 0] != q[:-1, 0]) | (q[1:, 2] != q[:-1, 2])
    return q[keep]


@dataclass
class TimedTokenizer:
    """TSD tokens on a grid of ``steps_per_beat``; shifts and durations up to ``max_steps``; a Velocity token
    per note in ``velocity_bins`` levels (0: none)."""

    steps_per_beat: int = 4
    max_steps: int = 32
    representation: str = "timed"
    velocity_bins: int = 0

    def tokenize(self, piece: Piece) -> list[str]:
        return self.tokens_of(quantize(piece, self.steps_per_beat, self.max_steps))

    def tokens_of(self, q: np.ndarray, origin: int = 0) -> list[str]:
        """TSD tokens of quantized notes ``q`` ([onset, duration, pitch, velocity], sorted) from time ``origin``."""
        out: list[str] = []
        now = origin
        q = np.asarray(q).reshape(-1, 4)
        levels = (
            velocity_levels(self.velocity_bins)[velocity_bin(q[:, 3], self.velocity_bins)]
            if self.velocity_bins
            else None
        )
        for i, (onset, dur, pitch, _) in enumerate(q.tolist()):
            out += self.shifts(onset - now)
            now = onset
            out.append(f"Pitch_{pitch}")
            if levels is not None:
                out.append(f"Velocity_{levels[i]}")
            out.append(f"Duration_{dur}")
        return out

    def shifts(self, steps: int) -> list[str]:
        """The TimeShift tokens of ``steps`` grid steps: whole ``max_steps`` first, then the rest."""
        full, rest = divmod(max(0, int(steps)), self.max_steps)
        return [f"TimeShift_{self.max_steps}"] * full + ([f"TimeShift_{rest}"] if rest else [])

    def detokenize(self, tokens: Sequence[str], name: str = "generated") -> Piece:
        """Notes from tokens. Bad orders are repaired: a pitch without a duration lasts one
        beat, a duration or velocity without a pitch and every unknown token are skipped; a note
        without a velocity token plays at ``DEFAULT_VELOCITY``."""
        spb = float(self.steps_per_beat)
        rows = [(on / spb, (on + dur) / spb, pitch, vel) for on, dur, pitch, vel, _ in self.parse(tokens)]
        return Piece(name, make_notes(rows), 120.0)

    def parse(self, tokens: Sequence[str]) -> list[tuple[int, int, int, int, list[int]]]:
        """(onset step, duration steps, pitch, velocity, token indices) of every note, in the order read.

        The repairs of :meth:`detokenize`: a pitch without a duration lasts one beat, a duration
        or velocity without a pitch and every unknown token are skipped; a note takes the last
        Velocity token between its Pitch and its Duration (else ``DEFAULT_VELOCITY``). A note's
        tokens are its Pitch, its Velocity and Duration when it has them, and the TimeShift tokens
        read since the pitch before it.
        """
        notes: list[tuple[int, int, int, int, list[int]]] = []
        beat = self.steps_per_beat
        now, pending, shifts = 0, None, []  # pending: [pitch, velocity, its tokens so far]
        for i, token in enumerate(tokens):
            kind, _, value = token.partition("_")
            if not value.isdigit():
                continue
            n = int(value)
            if kind == "Pitch" and n <= 127:
                if pending is not None:
                    notes.append((now, beat, *pending))
                pending, shifts = [n, DEFAULT_VELOCITY, [*shifts, i]], []
            elif kind == "Velocity" and 1 <= n <= 127 and pending is not None:
                pending[1] = n
                pending[2] = [*pending[2], i]
            elif kind == "Duration" and 1 <= n <= self.max_steps and pending is not None:
                notes.append((now, n, pending[0], pending[1], [*pending[2], i]))
                pending = None
            elif kind == "TimeShift" and 1 <= n <= self.max_steps:
                if pending is not None:
                    notes.append((now, beat, *pending))
                    pending = None
                now += n
                shifts.append(i)
        if pending is not None:
            notes.append((now, beat, *pending))
        return notes

    def build_vocab(self, token_lists: Iterable[list[str]] = ()) -> Vocabulary:
        """The closed TSD vocabulary; it does not depend on the data."""
        steps = range(1, self.max_steps + 1)
        tokens = [
            *SPECIALS,
            *(f"TimeShift_{n}" for n in steps),
            *(f"Pitch_{p}" for p in range(128)),
            *(f"Duration_{n}" for n in steps),
        ]
        meta = {"scheme": "TSD", "steps_per_beat": self.steps_per_beat, "max_steps": self.max_steps}
        if self.velocity_bins:  # after every other token: the ids of a vocabulary without them stay the same
            tokens += [f"Velocity_{v}" for v in velocity_levels(self.velocity_bins).tolist()]
            meta["velocity_bins"] = self.velocity_bins
        return Vocabulary(tokens, "timed", meta)


class TimedRepresentation(TokenRepresentation):
    """TSD tokens on a grid; see the module doc."""

    name: ClassVar[str] = "timed"
    label: ClassVar[str] = "timed — exact pitches, durations and rests (TSD tokens)"
    tokenizer: TimedTokenizer
    dynamics: ClassVar[str] = "optional"
    duration_prefixes: ClassVar[tuple[str, ...]] = ("Duration_",)

    @classmethod
    def learns(cls, cfg: DataConfig) -> str:
        grid = GRID_WORDS.get(cfg.steps_per_beat, f"1/{cfg.steps_per_beat}-beat")
        dynamics = f"dynamics in {cfg.velocity_bins} velocity levels" if cfg.velocity else "no dynamics (one loudness)"
        return f"pitches, durations and rests on a {grid} grid; {dynamics}"

    @classmethod
    def from_config(cls, cfg: DataConfig) -> TimedRepresentation:
        bins = cfg.velocity_bins if cfg.velocity else 0
        tokenizer = TimedTokenizer(cfg.steps_per_beat, cfg.max_shift_beats * cfg.steps_per_beat, velocity_bins=bins)
        vocab = tokenizer.build_vocab()
        return cls(tokenizer, vocab.with_fim() if cfg.fim_rate > 0 else vocab, fim=cfg.fim_rate > 0)

    @classmethod
    def from_vocab(cls, vocab: Vocabulary) -> TimedRepresentation:
        spb = int(vocab.meta.get("steps_per_beat", DataConfig.steps_per_beat))
        max_steps = int(vocab.meta.get("max_steps", DataConfig.max_shift_beats * spb))
        return cls(TimedTokenizer(spb, max_steps, velocity_bins=int(vocab.meta.get("velocity_bins", 0))), vocab)

    def unit_help(self) -> str:
        if self.tokenizer.velocity_bins:
            return "Timed tokens: about four per note (time shift, pitch, velocity, duration)."
        return "Timed tokens: about three per note (time shift, pitch, duration)."

    def time_cursor(self, ids: np.ndarray) -> float:
        tokens = self.vocab.decode(ids)
        steps = sum(int(t.rpartition("_")[2]) for t in tokens if t.startswith("TimeShift_"))
        return steps / float(self.tokenizer.steps_per_beat)

    def known_range(self) -> str:
        return "every MIDI pitch"

    # ------------------------------------------------------------------ infilling and constraints

    def _quantized(self, ids: np.ndarray) -> np.ndarray:
        piece = self.tokenizer.detokenize(self.vocab.decode(ids))
        return quantize(piece, self.tokenizer.steps_per_beat, self.tokenizer.max_steps)

    def _ids(self, tokens: list[str]) -> np.ndarray:
        return self.vocab.encode(tokens)

    def fim_parts(self, q: np.ndarray, s: int, e: int) -> tuple[list[str], list[str], list[str], int]:
        """(prefix, suffix, middle) tokens of quantized notes cut at grid steps ``s`` < ``e``, and the gap.

        The prefix (from its first note) ends with the shifts that bring it to ``s``; the middle holds
        the notes that begin in [s, e), timed from ``s``, and ends with the shifts to where the suffix
        begins (its first note at or after ``e``, or ``e``); the suffix starts with the shifts from ``s``
        to that note: the ``gap`` the middle must fill, which the model so reads before it writes.
        """
        tok = self.tokenizer
        onset = q[:, 0]
        pre, mid, suf = q[onset < s], q[(onset >= s) & (onset < e)], q[onset >= e]
        f = int(suf[0, 0]) if len(suf) else int(e)
        prefix = tok.tokens_of(pre, int(pre[0, 0])) + tok.shifts(s - int(pre[-1, 0])) if len(pre) else []
        middle = tok.tokens_of(mid, s) + tok.shifts(f - (int(mid[-1, 0]) if len(mid) else s))
        suffix = tok.shifts(f - s) + tok.tokens_of(suf, f)
        return prefix, suffix, middle, f - s

    def fim_split(self, chunk: np.ndarray, rng: np.random.Generator) -> FimParts | None:
        """A training chunk cut at two random grid times (not only at notes): the FIM example's parts."""
        q = self._quantized(chunk)
        if len(q) < 2:
            return None
        last = int(q[-1, 0]) + 1
        s = int(rng.integers(0, last))
        e = int(rng.integers(s + 1, last + 1))
        prefix, suffix, middle, _ = self.fim_parts(q, s, e)
        return self._ids(prefix), self._ids(suffix), self._ids(middle)

    def infill_plan(self, piece: Piece, start: float, end: float, window: int) -> InfillPlan:
        """The prompt that regenerates beats [start, end) of ``piece`` (snapped to the grid).

        The prompt keeps what the window leaves beside the middle's expected tokens
        (:func:`~musegen.steering.infill.context_budget`), before and after the span, each cut where an
        onset begins; notes of the prefix still sounding at the span's start count towards the
        notes sounding at once.
        """
        start, end = check_span(piece, start, end)
        tok = self.tokenizer
        spb = tok.steps_per_beat
        q = quantize(piece, spb, tok.max_steps)
        s, e = round(start * spb), max(round(start * spb) + 1, round(end * spb))
        prefix, suffix, middle, gap = self.fim_parts(q, s, e)
        full_prefix = len(prefix)
        rate = len(tok.tokens_of(q)) / max(1.0, piece.length_beats)  # this piece's tokens per beat
        keep_pre, keep_suf = context_budget(window, rate * (end - start) + 1)
        prefix = prefix[_cut_before(prefix, len(prefix) - keep_pre) :]
        suffix = suffix[: _cut_after(suffix, keep_suf)]
        head = [BOS_ID] if len(prefix) == full_prefix else []
        prompt = psm(self._ids(prefix), self._ids(suffix), None, self._sentinels(), window, head=head)
        pre = q[q[:, 0] < s]
        ends = pre[:, 0] + pre[:, 1] - s
        return InfillPlan(
            piece,
            s / spb,
            e / spb,
            prompt,
            e - s,
            gap,
            carry=ends[ends > 0],
            prefix_tokens=len(prefix),
            suffix_tokens=len(suffix),
            truth=self._ids(middle),
        )

    def constraint(self, cfg: ConstraintConfig | None, batch: int, plan: InfillPlan | None = None) -> Constraint | None:
        if (cfg is None or not cfg.active) and plan is None:
            return None
        return TimedConstraint(self, cfg or ConstraintConfig(), batch, plan)

    # ------------------------------------------------------------------ surprise

    def element_notes(self, ids: np.ndarray) -> np.ndarray:
        """A note is made of its ``Pitch``, ``Velocity`` and ``Duration`` tokens; the ``TimeShift`` tokens that lead to
        an onset belong to the onset's first note (its lowest pitch: notes of an onset go low to high).

        Tokens are read as :meth:`TimedTokenizer.detokenize` reads them (a pitch without a duration is
        its pitch token alone; skipped tokens and trailing shifts make no note).
        """
        notes = self.tokenizer.parse(self.vocab.decode(np.asarray(ids).reshape(-1)))
        starts = [note[0] for note in notes]  # the notes in the order detokenize makes them
        pitches = [note[2] for note in notes]
        members = [note[-1] for note in notes]
        order = np.lexsort((pitches, starts))  # as make_notes sorts decode's notes
        rank = np.empty(len(order), np.int64)
        rank[order] = np.arange(len(order))
        pairs = [(e, int(rank[j])) for j, elements in enumerate(members) for e in elements]
        return np.asarray(pairs, np.int64).reshape(-1, 2)


def _cut_before(tokens: list[str], at: int) -> int:
    """The first onset start (a Pitch after a TimeShift) at or after ``at``: where a prefix tail may begin."""
    if at <= 0:
        return 0
    for i in range(at, len(tokens)):
        if tokens[i].startswith("Pitch_") and tokens[i - 1].startswith("TimeShift_"):
            return i
    return len(tokens) - next((k for k, t in enumerate(reversed(tokens)) if not t.startswith("TimeShift_")), 0)


def _cut_after(tokens: list[str], at: int) -> int:
    """The last onset end (before a TimeShift that follows a Duration) at or before ``at``: where a suffix may end."""
    if at >= len(tokens):
        return len(tokens)
    for i in range(at, 0, -1):
        if tokens[i].startswith("TimeShift_") and tokens[i - 1].startswith("Duration_"):
            return i
    return min(at, len(tokens))


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
    and ``<fim_end>`` comes when it does; the grammar always holds there.
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

    def prime(self, prompt: np.ndarray) -> None:
        if self.plan is not None:
            return  # a middle starts at its span's start, whatever the prompt
        for t in range(prompt.shape[1]):
            self.observe(prompt[:, t])

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
            ids = self.pitch_ids
            m[ids[self.pitch_values > self.top[r]] if self.grammar else ids] = True
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
            elif kind == DURATION and self.pending[r]:
                self.ends[r].append(int(self.cursor[r]) + value)
                self.pending[r] = False
            self.last[r], self.last_value[r] = kind, value
