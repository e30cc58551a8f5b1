"""Note events: the representation-neutral form every MIDI source is read into.

A piece is a list of notes with onsets and offsets in quarter notes (beats), so that
tokenization does not depend on tempo. Every reader (pretty_midi files, the music21
corpus) produces a :class:`Piece`; every writer (tokens, MIDI, audio) consumes one.
"""

from __future__ import annotations

import math
import re
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
    # the source's tempo map: (K, 2) float64 [beat, BPM] sorted by beat, the first at beat 0; None: ``tempo``
    # throughout. Beats are the score's time (ticks / resolution), seconds what a listener hears.
    tempo_map: np.ndarray | None = field(default=None, repr=False)

    def tempos(self) -> np.ndarray:
        """The tempo map as (K, 2) [beat, BPM], at least one row (``tempo`` from beat 0)."""
        return as_tempo_map(self.tempo_map, self.tempo)

    def seconds(self, beats: np.ndarray | float) -> np.ndarray:
        """Beats of this piece to seconds through its tempo map."""
        return beats_to_seconds(beats, self.tempos())

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
        return Piece(f"{self.name} ({semitones:+d})", notes[keep], self.tempo, self.tempo_map)

    def tempo_at(self, beat: float) -> float:
        """The tempo in BPM in force at ``beat``."""
        tm = self.tempos()
        return float(tm[max(0, int(np.searchsorted(tm[:, 0], beat, side="right")) - 1), 1])


# --------------------------------------------------------------------------- pitch names

# The one pitch-name table: display names (sharps) and key names (the spellings a musician writes a key in).
PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
TONICS = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
LETTERS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_PITCH_NAME = re.compile(r"^([A-Ga-g])(#{1,2}|b{1,2}|-{1,2})?(-?\d+)$")


def pitch_name(pitch: int) -> str:
    """A MIDI pitch as a name with octave: 60 -> 'C4', 70 -> 'A#4'."""
    return f"{PITCH_CLASSES[int(pitch) % 12]}{int(pitch) // 12 - 1}"


def parse_pitch_name(name: str) -> int | None:
    """'E4' -> 64, 'Bb3' and 'B-3' (music21's flat) -> 58, 'C#5' -> 73; None when it is not a pitch in 0-127."""
    m = _PITCH_NAME.match(name.strip())
    if not m:
        return None
    letter, acc, octave = m.groups()
    shift = len(acc or "") * (1 if (acc or "#").startswith("#") else -1)
    midi = 12 * (int(octave) + 1) + LETTERS[letter.upper()] + shift
    return midi if 0 <= midi <= 127 else None


# --------------------------------------------------------------------------- tempo maps


def as_tempo_map(tempo_map: np.ndarray | None, tempo: float = 120.0) -> np.ndarray:
    """A valid (K, 2) [beat, BPM] map: sorted, starting at beat 0, positive tempos; ``tempo`` when empty."""
    tm = np.zeros((0, 2)) if tempo_map is None else np.asarray(tempo_map, dtype=np.float64).reshape(-1, 2)
    tm = tm[np.isfinite(tm).all(axis=1) & (tm[:, 1] > 0)]
    if not len(tm):
        return np.array([[0.0, float(tempo) if tempo and tempo > 0 else 120.0]])
    tm = tm[np.argsort(tm[:, 0], kind="stable")]
    tm[:, 0] = np.maximum(tm[:, 0], 0.0)
    keep = np.ones(len(tm), dtype=bool)  # of several tempos at one beat the last holds
    keep[:-1] = tm[1:, 0] != tm[:-1, 0]
    tm = tm[keep]
    if tm[0, 0] > 0:
        tm = np.vstack([[0.0, tm[0, 1]], tm])
    return tm


def tempo_changes(tempo_map: np.ndarray | None, until: float = np.inf, then: float | None = None) -> np.ndarray | None:
    """The rows of ``tempo_map`` before beat ``until``, and ``then`` BPM from ``until`` on when given: the
    map of a passage carried on at one tempo. None where no map or a single tempo is left."""
    if tempo_map is None or len(tempo_map) < 2:
        return None
    rows = np.asarray(tempo_map, dtype=np.float64)
    rows = rows[rows[:, 0] < until]
    if then is not None:
        rows = np.vstack([rows, [[until, then]]])
    return rows if len(rows) > 1 else None


def beats_to_seconds(beats: np.ndarray | float, tempo_map: np.ndarray) -> np.ndarray:
    """Beats to seconds through a tempo map of :func:`as_tempo_map` (piecewise linear)."""
    b = np.asarray(beats, dtype=np.float64)
    starts, bpm = tempo_map[:, 0], tempo_map[:, 1]
    at = np.concatenate([[0.0], np.cumsum(np.diff(starts) * 60.0 / bpm[:-1])])  # seconds at each change
    i = np.clip(np.searchsorted(starts, b, side="right") - 1, 0, len(starts) - 1)
    return at[i] + (b - starts[i]) * 60.0 / bpm[i]


def seconds_to_beats(seconds: np.ndarray | float, tempo_map: np.ndarray) -> np.ndarray:
    """Seconds to beats through a tempo map (the inverse of :func:`beats_to_seconds`)."""
    s = np.asarray(seconds, dtype=np.float64)
    starts, bpm = tempo_map[:, 0], tempo_map[:, 1]
    at = np.concatenate([[0.0], np.cumsum(np.diff(starts) * 60.0 / bpm[:-1])])
    i = np.clip(np.searchsorted(at, s, side="right") - 1, 0, len(starts) - 1)
    return starts[i] + (s - at[i]) * bpm[i] / 60.0


# --------------------------------------------------------------------------- velocity and timing


def velocity_levels(bins: int) -> np.ndarray:
    """The ``bins`` velocities tokens can name (MidiTok's: ``linspace(0, 127, bins + 1)[1:]``, rounded)."""
    return np.round(np.linspace(0, 127, int(bins) + 1)[1:]).astype(np.int64)


def velocity_bin(velocity: np.ndarray | float, bins: int) -> np.ndarray:
    """The index (0..bins-1) of the nearest of :func:`velocity_levels` to each velocity."""
    levels = velocity_levels(bins)
    v = np.asarray(velocity, dtype=np.float64)
    return np.abs(v[..., None] - levels).argmin(axis=-1).astype(np.int64)


GRID_FIT_STEPS = 4  # sixteenths
GRID_FIT_TOLERANCE = 0.1  # of a grid step
UNQUANTIZED_BELOW = 0.7  # a dataset whose pieces fit the grid less than this looks played, not written


def grid_fit(notes: np.ndarray, steps_per_beat: int = GRID_FIT_STEPS, tolerance: float = GRID_FIT_TOLERANCE) -> float:
    """The share of distinct onsets within ``tolerance`` of a grid step of a sixteenth under the piece's own
    tempo map (beats are the score's time, so the map is already applied); 1.0 for a piece without notes.

    Written (sequenced) music scores near 1; music played on a keyboard with no tempo map scores near
    ``2 * tolerance`` (onsets fall anywhere between two steps)."""
    if not len(notes):
        return 1.0
    steps = np.unique(np.asarray(notes)[:, START]) * steps_per_beat
    return float(np.mean(np.abs(steps - np.round(steps)) <= tolerance + 1e-9))


def timing_advice(median_fit: float) -> str:
    """The one line for people when a dataset's median :func:`grid_fit` is below UNQUANTIZED_BELOW, else ""."""
    if median_fit >= UNQUANTIZED_BELOW:
        return ""
    return (
        f"These files look played rather than written: {median_fit:.0%} of onsets are on the sixteenth grid in "
        "the median file. The performance representation (10 ms time shifts) keeps their timing; the timed "
        "tokens would force them onto the grid."
    )


def piano_roll(piece: Piece, steps_per_beat: int = 4) -> np.ndarray:
    """A (128, T) uint8 matrix of velocities, one column per grid step, for pictures."""
    n_steps = max(1, int(np.ceil(piece.length_beats * steps_per_beat)))
    roll = np.zeros((128, n_steps), dtype=np.uint8)
    for start, end, pitch, vel in piece.notes:
        a = round(start * steps_per_beat)
        b = max(a + 1, round(end * steps_per_beat))
        roll[int(pitch), a:b] = np.maximum(roll[int(pitch), a:b], int(vel))
    return roll


# The one tempo range (BPM) of music musegen writes, plays and offers; a tempo outside is clamped into it.
TEMPO_RANGE = (20.0, 400.0)
DEFAULT_TEMPO = 100.0  # of music whose source says nothing


def clamp_tempo(bpm: float | None) -> float:
    """``bpm`` within :data:`TEMPO_RANGE`; :data:`DEFAULT_TEMPO` when it is missing, zero or not a number."""
    if bpm is None or not math.isfinite(bpm) or bpm <= 0:
        return DEFAULT_TEMPO
    return float(min(max(float(bpm), TEMPO_RANGE[0]), TEMPO_RANGE[1]))
