"""The timed representation: TSD tokens (Time-Shift-Duration, MidiTok; Fradet et al. 2021).

Notes sorted by onset then pitch, a ``TimeShift_n`` token whenever the onset moves on (``n``
grid steps; longer gaps are chained), then ``Pitch_p`` and ``Duration_n`` for each note. With
velocity (``DataConfig.velocity``) a ``Velocity_v`` token sits between them (MidiTok's order), ``v``
the nearest of ``velocity_bins`` levels (:func:`musegen.notes.velocity_levels`); without it notes
decode at one loudness. Times are quantized to ``steps_per_beat`` (4 = sixteenth notes, 12 =
sixteenths and eighth-note triplets). Decoding quantized music gives back the same notes, onsets,
durations (and velocity levels). The vocabulary is closed: it depends on the settings, not on the
data; the Velocity tokens come after all others, so a vocabulary without them is the same as before.

The parts, one module each: :mod:`.codec` (quantize, the tokenizer and its vocabulary),
:mod:`.infill` (fill-in-the-middle cuts and prompts), :mod:`.constraint` (the sampling-time rules),
:mod:`.representation` (the :class:`TimedRepresentation` that puts them together).
"""

from musegen.representations.timed.codec import GRID_WORDS, TimedTokenizer, quantize
from musegen.representations.timed.constraint import TimedConstraint
from musegen.representations.timed.representation import TimedRepresentation

__all__ = ["GRID_WORDS", "TimedConstraint", "TimedRepresentation", "TimedTokenizer", "quantize"]
