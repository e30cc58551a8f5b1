"""The performance events' codec: notes in seconds on the 10 ms grid <-> Performance RNN events, the vocabulary."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from musegen.config import ConstraintConfig
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
from musegen.vocabulary import SPECIALS, Vocabulary

DECODE_TEMPO = 120.0  # BPM of decoded pieces: two beats a second
SHIFT_MS = 10  # one time step
MAX_SHIFT = 100  # steps of the longest TimeShift (one second)
CAP_SECONDS = ConstraintConfig.max_note_seconds  # a note never turned off lasts at most this long (8 s)

# an event: (time step, OFF or ON, pitch, velocity level); at one instant NoteOffs come first
Event = tuple[int, int, int, int]
OFF, ON = 0, 1


def note_events(q: np.ndarray, offs: bool = True) -> list[Event]:
    """The NoteOn (and, with ``offs``, NoteOff) events of notes ``q`` ((N, 4) [onset, offset, pitch, level])."""
    rows = np.asarray(q, dtype=np.int64).reshape(-1, 4).tolist()
    events = [(int(on), ON, int(p), int(v)) for on, _, p, v in rows]
    return events + ([(int(off), OFF, int(p), 0) for _, off, p, _ in rows] if offs else [])


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
        return self.write(note_events(q))

    def write(self, events: Iterable[Event]) -> list[str]:
        """The tokens of ``events`` (time, kind, pitch, velocity level), from time 0: sorted by time, the
        NoteOffs of an instant first, pitches rising; a Velocity event where the loudness changes."""
        out: list[str] = []
        now, loudness = 0, -1
        for time, kind, pitch, velocity in sorted(events):
            out += self.shifts(time - now)
            now = time
            if kind == OFF:
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
