"""The timed tokens' codec: notes quantized to the grid, and TSD tokens of them and back.

:func:`quantize` puts a piece's notes on the grid; :class:`TimedTokenizer` writes them as
``TimeShift`` / ``Pitch`` / (``Velocity``) / ``Duration`` tokens, reads tokens back (repairing bad
orders) and builds the closed vocabulary.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

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
