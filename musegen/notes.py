"""Note events: the representation-neutral form every MIDI source is read into.

A piece is a list of notes with onsets and offsets in quarter notes (beats), so that
tokenization does not depend on tempo. Every reader (pretty_midi files, the music21
corpus) produces a :class:`Piece`; every writer (tokens, MIDI, audio) consumes one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# Column indices of ``Piece.notes``.
START, END, PITCH, VELOCITY = 0, 1, 2, 3
DEFAULT_VELOCITY = 80  # of notes whose source has no velocity (decoded tokens and frames)
# The 88 keys of a piano: MIDI 21 (A0) to 108 (C8).
LOWEST_PIANO_PITCH = 21
PIANO_KEYS = 88


def make_notes(rows: list[tuple[float, float, int, int]] | np.ndarray) -> np.ndarray:
    """Return an (N, 4) float64 array [start, end, pitch, velocity] sorted by (start, pitch)."""
    arr = np.asarray(rows, dtype=np.float64).reshape(-1, 4)
    if len(arr):
        order = np.lexsort((arr[:, PITCH], arr[:, START]))
        arr = arr[order]
    return arr


@dataclass
class Piece:
    """One piece of music as note events.

    ``notes`` is an (N, 4) float64 array with columns start and end (in quarter
    notes from the beginning), MIDI pitch (0-127) and velocity (1-127), sorted by
    start then pitch. ``tempo`` is the initial tempo of the source in BPM, kept so
    that a rendering can sound like the original.
    """

    name: str
    notes: np.ndarray = field(repr=False)
    tempo: float = 120.0

    @property
    def n_notes(self) -> int:
        return len(self.notes)

    @property
    def length_beats(self) -> float:
        return float(self.notes[:, END].max()) if len(self.notes) else 0.0

    def pitch_range(self) -> tuple[int, int]:
        if not len(self.notes):
            return (0, 0)
        return int(self.notes[:, PITCH].min()), int(self.notes[:, PITCH].max())

    def transposed(self, semitones: int) -> Piece:
        """A copy shifted by ``semitones``; notes leaving 0-127 are dropped."""
        notes = self.notes.copy()
        notes[:, PITCH] += semitones
        keep = (notes[:, PITCH] >= 0) & (notes[:, PITCH] <= 127)
        return Piece(f"{self.name} ({semitones:+d})", notes[keep], self.tempo)


def piano_roll(piece: Piece, steps_per_beat: int = 4) -> np.ndarray:
    """A (128, T) uint8 matrix of velocities, one column per grid step, for pictures."""
    n_steps = max(1, int(np.ceil(piece.length_beats * steps_per_beat)))
    roll = np.zeros((128, n_steps), dtype=np.uint8)
    for start, end, pitch, vel in piece.notes:
        a = round(start * steps_per_beat)
        b = max(a + 1, round(end * steps_per_beat))
        roll[int(pitch), a:b] = np.maximum(roll[int(pitch), a:b], int(vel))
    return roll
