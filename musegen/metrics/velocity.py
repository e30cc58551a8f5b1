"""Velocity statistics of notes: how loud they are played, and whether the loudness varies at all.

The one place a caption, a table or the command line reads a piece's dynamics from: the range and the
mean of its MIDI velocities (1-127), or nothing when every note has the same velocity (decoded tokens
without dynamics, music written at one loudness).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from musegen.notes import VELOCITY, Piece


@dataclass(frozen=True)
class Velocities:
    """The velocities of a piece's notes: lowest, highest and mean."""

    low: int
    high: int
    mean: float

    def describe(self) -> str:
        """ "velocities 38-96 (mean 71)"."""
        return f"velocities {self.low}-{self.high} (mean {self.mean:.0f})"


def velocities(piece: Piece) -> Velocities | None:
    """The velocity statistics of ``piece``; None when it has fewer than two different velocities."""
    v = piece.notes[:, VELOCITY] if piece.n_notes else np.zeros(0)
    if len(np.unique(v)) < 2:
        return None
    return Velocities(int(v.min()), int(v.max()), float(v.mean()))
