"""The performance representation: Performance RNN events (Oore et al. 2018, "This time with feeling").

A piece becomes what a pianist's hands do, in seconds: ``NoteOn_p`` and ``NoteOff_p`` for every
MIDI pitch, ``TimeShift_k`` to move time on by ``k`` steps of 10 ms (1 to 100: up to one second;
longer gaps are chained), and ``Velocity_v`` before a note-on whose loudness differs from the last
one (``v`` one of :func:`musegen.notes.velocity_levels`, 32 levels by default), as Performance RNN
writes them. Times are the seconds a listener hears, through the piece's own tempo map
(:meth:`Piece.seconds`), rounded to the 10 ms grid, so rubato and played (unquantized) timing are
kept; at one instant note-offs come before note-ons (a re-struck key is released, then struck
again), each in ascending pitch.

Decoding gives notes in beats at a constant 120 BPM (beats = seconds x 2), so that a rendering at
120 BPM sounds at the original's seconds. Malformed orders are repaired, never fatal: a note-on of a
pitch already sounding ends the earlier note, a note-off of a silent pitch is skipped, a note never
turned off ends at the end of the sequence (at most 4 s after its onset), a note that ends where it
begins lasts 10 ms. The vocabulary is closed: it depends on its settings, not on the data.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from musegen.config import ConstraintConfig, DataConfig, ModelConfig
from musegen.errors import ConfigError
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
from musegen.steering.infill import InfillPlan
from musegen.vocabulary import BOS_ID, PAD_ID, SPECIALS, UNK_ID, Vocabulary

DECODE_TEMPO = 120.0  # BPM of decoded pieces: two beats a second
SHIFT_MS = 10  # one time step
MAX_SHIFT = 100  # steps of the longest TimeShift (one second)
CAP_SECONDS = 4.0  # a note never turned off lasts at most this long
NO_INFILL = (
    "the performance representation does not fill in passages yet; continue a seed instead, or train a timed run."
)

# note (a row of PerformanceTokenizer.notes_of): onset step, offset step, pitch, velocity
_Note = tuple[int, int, int, int]


@dataclass
class PerformanceTokenizer:
    """Performance RNN events: 10 ms steps up to ``max_shift`` per TimeShift, ``velocity_bins`` loudness levels."""

    shift_ms: int = SHIFT_MS
    max_shift: int = MAX_SHIFT
    velocity_bins: int = 32
    cap_seconds: float = CAP_SECONDS
    representation: str = "performance"

    @property
    def steps_per_second(self) -> float:
        return 1000.0 / self.shift_ms

    @property
    def beats_per_step(self) -> float:
        """Beats of one time step in a decoded piece (at :data:`DECODE_TEMPO`)."""
        return self.shift_ms / 1000.0 * DECODE_TEMPO / 60.0

    def levels(self) -> np.ndarray:
        return velocity_levels(self.velocity_bins)

    # ------------------------------------------------------------------ encoding

    def notes_of(self, piece: Piece) -> np.ndarray:
        """Integer (N, 4) [onset step, offset step, pitch, velocity level] of ``piece``, in seconds through
        its tempo map on the 10 ms grid, sorted by onset then pitch.

        What the events keep: every note at least one step long; of notes of one pitch that begin at one
        step the longest; a note still sounding when its pitch is struck again ends there.
        """
        if not piece.n_notes:
            return np.zeros((0, 4), dtype=np.int64)
        notes = piece.notes
        sps = self.steps_per_second
        on = np.round(np.asarray(piece.seconds(notes[:, START])) * sps).astype(np.int64)
        off = np.round(np.asarray(piece.seconds(notes[:, END])) * sps).astype(np.int64)
        off = np.maximum(off, on + 1)
        pitch = np.clip(notes[:, PITCH], 0, 127).astype(np.int64)
        velocity = np.clip(np.nan_to_num(notes[:, VELOCITY], nan=DEFAULT_VELOCITY), 1, 127)
        level = self.levels()[velocity_bin(velocity, self.velocity_bins)]
        q = np.stack([on, off, pitch, level], axis=1)
        q = q[np.lexsort((-q[:, 1], q[:, 0], q[:, 2]))]  # by pitch, then onset, the longest first
        keep = np.ones(len(q), dtype=bool)
        keep[1:] = (q[1:, 2] != q[:-1, 2]) | (q[1:, 0] != q[:-1, 0])
        q = q[keep]
        same = np.zeros(len(q), dtype=bool)
        same[:-1] = q[1:, 2] == q[:-1, 2]  # the next row is the same pitch, struck later
        q[:-1, 1] = np.where(same[:-1], np.minimum(q[:-1, 1], q[1:, 0]), q[:-1, 1])
        return q[np.lexsort((q[:, 2], q[:, 0]))]

    def tokenize(self, piece: Piece) -> list[str]:
        return self.tokens_of(self.notes_of(piece))

    def tokens_of(self, q: np.ndarray) -> list[str]:
        """The events of notes ``q`` (:meth:`notes_of`'s rows), from time 0."""
        q = np.asarray(q, dtype=np.int64).reshape(-1, 4)
        events = [(int(off), 0, int(p), 0) for _, off, p, _ in q.tolist()]
        events += [(int(on), 1, int(p), int(v)) for on, _, p, v in q.tolist()]
        events.sort()  # by time, note-offs first, ascending pitch
        out: list[str] = []
        now, loudness = 0, -1
        for time, kind, pitch, velocity in events:
            out += self.shifts(time - now)
            now = time
            if kind == 0:
                out.append(f"NoteOff_{pitch}")
                continue
            if velocity != loudness:
                out.append(f"Velocity_{velocity}")
                loudness = velocity
            out.append(f"NoteOn_{pitch}")
        return out

    def shifts(self, steps: int) -> list[str]:
        """The TimeShift events of ``steps`` steps: whole ``max_shift`` first, then the rest."""
        full, rest = divmod(max(0, int(steps)), self.max_shift)
        return [f"TimeShift_{self.max_shift}"] * full + ([f"TimeShift_{rest}"] if rest else [])

    # ------------------------------------------------------------------ decoding

    def parse(self, tokens: Sequence[str]) -> tuple[list[tuple[int, int, int, int, list[int]]], int]:
        """(onset step, offset step, pitch, velocity, token indices) of every note in the order struck, and
        the time (steps) at the end of ``tokens``; with the repairs of the module doc.

        A note's tokens are its NoteOn, its NoteOff when it has one, and the TimeShift and Velocity
        events read since the NoteOn before it (they lead to its onset and set its loudness).
        """
        notes: list[list] = []
        sounding: dict[int, int] = {}  # pitch -> index of its note in ``notes``
        now, loudness, lead = 0, DEFAULT_VELOCITY, []
        for i, token in enumerate(tokens):
            kind, _, value = token.partition("_")
            if not value.isdigit():
                continue
            n = int(value)
            if kind == "TimeShift" and 1 <= n <= self.max_shift:
                now += n
                lead.append(i)
            elif kind == "Velocity" and 1 <= n <= 127:
                loudness = n
                lead.append(i)
            elif kind == "NoteOn" and n <= 127:
                if n in sounding:  # struck again while sounding: the earlier note ends here
                    notes[sounding.pop(n)][1] = now
                sounding[n] = len(notes)
                notes.append([now, None, n, loudness, [*lead, i]])
                lead = []
            elif kind == "NoteOff" and n in sounding:
                note = notes[sounding.pop(n)]
                note[1] = now
                note[4].append(i)
        cap = round(self.cap_seconds * self.steps_per_second)
        for j in sounding.values():
            notes[j][1] = min(now, notes[j][0] + cap)
        out = [(on, max(off, on + 1), pitch, vel, elements) for on, off, pitch, vel, elements in notes]
        return out, now

    def detokenize(self, tokens: Sequence[str], name: str = "generated") -> Piece:
        """Notes of events, in beats at 120 BPM (repaired as the module doc says; unknown tokens are skipped)."""
        bps = self.beats_per_step
        rows = [(on * bps, off * bps, pitch, vel) for on, off, pitch, vel, _ in self.parse(tokens)[0]]
        return Piece(name, make_notes(rows), DECODE_TEMPO)

    def build_vocab(self, token_lists: Iterable[list[str]] = ()) -> Vocabulary:
        """The closed vocabulary of events; it does not depend on the data."""
        tokens = [
            *SPECIALS,
            *(f"TimeShift_{k}" for k in range(1, self.max_shift + 1)),
            *(f"NoteOn_{p}" for p in range(128)),
            *(f"NoteOff_{p}" for p in range(128)),
            *(f"Velocity_{v}" for v in self.levels().tolist()),
        ]
        meta = {
            "scheme": "performance",
            "shift_ms": self.shift_ms,
            "max_shift": self.max_shift,
            "velocity_bins": self.velocity_bins,
        }
        return Vocabulary(tokens, self.representation, meta)


class PerformanceRepresentation(TokenRepresentation):
    """Performance RNN events; see the module doc."""

    name: ClassVar[str] = "performance"
    label: ClassVar[str] = "performance — note-on/off, 10 ms time shifts and velocity (Performance RNN)"
    unit: ClassVar[str] = "event"
    uses_grid: ClassVar[bool] = False
    keeps_played_timing: ClassVar[bool] = True
    dynamics: ClassVar[str] = "always"
    fixed_tempo: ClassVar[float] = DECODE_TEMPO
    unit_name: ClassVar[str] = "events"
    size_help: ClassVar[str] = "distinct events (note-on, note-off, time shift, velocity), with <pad>, <unk> and <bos>"
    metric_help: ClassVar[tuple[str, str, str]] = (
        "mean negative log-likelihood per event, nats",
        "exp(NLL): as unsure as a uniform choice among this many events",
        "top-1 next-event accuracy",
    )
    forbidden: ClassVar[tuple[int, ...]] = (PAD_ID, BOS_ID, UNK_ID)  # the vocabulary is closed: <unk> never comes
    tokenizer: PerformanceTokenizer

    @classmethod
    def from_config(cls, cfg: DataConfig) -> PerformanceRepresentation:
        tokenizer = PerformanceTokenizer(velocity_bins=int(cfg.velocity_bins))
        return cls(tokenizer, tokenizer.build_vocab())

    @classmethod
    def from_vocab(cls, vocab: Vocabulary) -> PerformanceRepresentation:
        meta = vocab.meta
        bins = int(meta.get("velocity_bins", DataConfig.velocity_bins))
        if not 2 <= bins <= 127:
            raise ConfigError(
                f"vocab.json's velocity_bins is {bins}; performance events have 2 to 127 velocity levels. Train the "
                "run again or put back its vocab.json."
            )
        tokenizer = PerformanceTokenizer(
            shift_ms=int(meta.get("shift_ms", SHIFT_MS)),
            max_shift=int(meta.get("max_shift", MAX_SHIFT)),
            velocity_bins=bins,
        )
        return cls(tokenizer, vocab)

    @classmethod
    def learns(cls, cfg: DataConfig) -> str:
        return (
            f"notes on and off in {SHIFT_MS} ms steps as played (rubato and all), dynamics in {cfg.velocity_bins} "
            "velocity levels"
        )

    def unit_help(self) -> str:
        return (
            "Performance events: about 3.5 per note (its note-on and note-off, the time shifts between events, a "
            "velocity event when the loudness changes), some 33 per second of played piano."
        )

    def time_cursor(self, ids: np.ndarray) -> float:
        steps = 0
        for token in self.vocab.decode(np.asarray(ids).reshape(-1)):
            kind, _, value = token.partition("_")
            if kind == "TimeShift" and value.isdigit() and 1 <= int(value) <= self.tokenizer.max_shift:
                steps += int(value)
        return steps * self.tokenizer.beats_per_step

    def known_range(self) -> str:
        return "every MIDI pitch"

    # ------------------------------------------------------------------ infilling: not yet

    def can_infill(self, model: ModelConfig) -> bool:
        return False

    def check_infill(self, model: ModelConfig) -> None:
        raise ConfigError(NO_INFILL)

    def infill_plan(self, piece: Piece, start: float, end: float, window: int) -> InfillPlan:
        raise ConfigError(NO_INFILL)

    def decode_middle(self, ids: np.ndarray, plan: InfillPlan, name: str = "middle") -> Piece:
        raise ConfigError(NO_INFILL)

    # ------------------------------------------------------------------ constraints and surprise

    def constraint(self, cfg: ConstraintConfig | None, batch: int, plan: InfillPlan | None = None) -> Constraint | None:
        if plan is not None:
            raise ConfigError(NO_INFILL)
        if cfg is None or not cfg.active:
            return None
        return PerformanceConstraint(self, cfg, batch)

    def element_notes(self, ids: np.ndarray) -> np.ndarray:
        """A note is made of its NoteOn and NoteOff, and of the TimeShift and Velocity events that lead to
        its NoteOn from the one before (read as :meth:`PerformanceTokenizer.parse` reads them: a skipped
        NoteOff, trailing shifts and unknown tokens make no note)."""
        notes = self.tokenizer.parse(self.vocab.decode(np.asarray(ids).reshape(-1)))[0]
        order = np.lexsort(([n[2] for n in notes], [n[0] for n in notes]))  # as make_notes sorts decode's notes
        rank = np.empty(len(order), np.int64)
        rank[order] = np.arange(len(order))
        pairs = [(e, int(rank[j])) for j, note in enumerate(notes) for e in note[4]]
        return np.asarray(pairs, np.int64).reshape(-1, 2)


OTHER, SHIFT, NOTE_ON, NOTE_OFF, VELOCITY_KIND = 0, 1, 2, 3, 4


class PerformanceConstraint(Constraint):
    """The rules of performance events: key and range mask NoteOn pitches, ``max_polyphony`` masks every
    NoteOn while that many notes sound, and the grammar allows a NoteOff only for a sounding pitch and a
    NoteOn only for a silent one. TimeShift and Velocity events are always allowed, so no sequence is
    ever cornered.

    Each row tracks the pitches sounding, the time (steps) and when each began; a note turned off at the
    instant it began still counts towards the notes at once until time moves on (the decoder gives it
    10 ms).
    """

    def __init__(self, rep: PerformanceRepresentation, cfg: ConstraintConfig, batch: int):
        super().__init__(batch)
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
        self.sounding = np.zeros((self.batch, 128), dtype=bool)
        self.began = np.zeros((self.batch, 128), dtype=np.int64)
        self.now = np.zeros(self.batch, dtype=np.int64)
        self.flash = np.zeros(self.batch, dtype=np.int64)  # notes ended at the instant they began

    def prime(self, prompt: np.ndarray) -> None:
        prompt = np.asarray(prompt)
        for t in range(prompt.shape[1]):
            self.observe(prompt[:, t])

    def allowed(self) -> np.ndarray:
        mask = np.tile(self.static, (self.batch, 1))
        on = np.tile(self.on_ok, (self.batch, 1))
        if self.grammar:
            on &= ~self.sounding[:, self.on_pitch]
        if self.max_poly:
            at_once = self.sounding.sum(axis=1) + self.flash
            on &= (at_once < self.max_poly)[:, None]
        mask[:, self.on_ids] = on
        mask[:, self.off_ids] = self.sounding[:, self.off_pitch] if self.grammar else True
        if not mask.any(axis=1).all():  # never expected: TimeShift is always allowed
            self.fallbacks += int((~mask.any(axis=1)).sum())
            mask[:, self.static] = True
        return mask

    def _end(self, r: int, pitch: int) -> None:
        if self.sounding[r, pitch]:
            self.sounding[r, pitch] = False
            self.flash[r] += int(self.began[r, pitch] == self.now[r])

    def observe(self, drawn: np.ndarray) -> None:
        for r, i in enumerate(np.asarray(drawn).reshape(-1).tolist()):
            if not 0 <= i < len(self.kind):
                continue
            kind, value = int(self.kind[i]), int(self.value[i])
            if kind == SHIFT:
                self.now[r] += value
                self.flash[r] = 0
            elif kind == NOTE_ON:
                self._end(r, value)  # a sounding pitch struck again ends its earlier note
                self.sounding[r, value] = True
                self.began[r, value] = self.now[r]
            elif kind == NOTE_OFF:
                self._end(r, value)
