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
turned off ends at the end of the sequence (at most 8 s after its onset), a note that ends where it
begins lasts 10 ms. The vocabulary is closed: it depends on its settings, not on the data.

The parts, one module each: :mod:`.codec` (notes in seconds <-> events, the vocabulary),
:mod:`.infill` (fill in the middle: the events cut by time, a span in seconds), :mod:`.constraint`
(the sampling-time rules, a middle's among them), :mod:`.representation` (the
:class:`PerformanceRepresentation` that puts them together).
"""

from musegen.representations.performance.codec import (
    CAP_SECONDS,
    DECODE_TEMPO,
    MAX_SHIFT,
    SHIFT_MS,
    PerformanceTokenizer,
)
from musegen.representations.performance.constraint import PerformanceConstraint
from musegen.representations.performance.representation import PerformanceRepresentation

__all__ = [
    "CAP_SECONDS",
    "DECODE_TEMPO",
    "MAX_SHIFT",
    "SHIFT_MS",
    "PerformanceConstraint",
    "PerformanceRepresentation",
    "PerformanceTokenizer",
]
