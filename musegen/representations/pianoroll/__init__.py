"""Piano-roll frames: true polyphony as multi-hot rows over the 88 piano keys.

A piece becomes a (T, 88) uint8 matrix on a time grid of ``steps_per_beat`` frames per
quarter note (1 for the JSB Chorales benchmark, ``DataConfig.steps_per_beat`` for MIDI data):
``frames[t, k] == 1`` when MIDI pitch ``21 + k`` sounds during frame t. Onsets and offsets
are rounded to the grid as the timed tokens do (a note lasts at least one frame); pitches
outside the piano (below 21, above 108) are left out.

Models read the frames through a Dense adapter and predict frame t + 1 from frames 0..t with
one independent sigmoid per key (see :func:`musegen.models.build_frame_model`); the first
frame of a piece is context only, never a target. Generation draws every key from its own
Bernoulli distribution. ``frames -> Piece`` merges consecutive held frames of a key into one
note, so two repeated notes of a pitch played legato read back as one long note (the
piano roll's known ambiguity). Held-out scores are nats per frame (the sum over the keys)
beside a per-key first-order Markov floor.

For the app's statistics and run folders the representation also has tokens (one per frame,
e.g. ``Frame_48.55.64.72`` or ``Frame_rest``) and a fixed vocabulary of the 88 keys, so that
statistics and ``vocab.json`` work as for the token representations.

The parts, one module each: :mod:`.codec` (pieces <-> frames, the frame tokens, the vocabulary),
:mod:`.steering` (the Bernoulli sampling step, the key constraint), :mod:`.representation` (the
:class:`PianoRollRepresentation` that puts them together with its model, data and scores).
"""

from musegen.representations.pianoroll.codec import (
    LOWEST_PITCH,
    N_KEYS,
    REPRESENTATION,
    REST,
    PianoRollTokenizer,
    check_frames,
    frame_token,
    frames_to_piece,
    pianoroll_vocab,
    piece_to_frames,
    transpose_frames,
)
from musegen.representations.pianoroll.representation import PianoRollRepresentation
from musegen.representations.pianoroll.steering import FrameConstraint, sample_frames

__all__ = [
    "LOWEST_PITCH",
    "N_KEYS",
    "REPRESENTATION",
    "REST",
    "FrameConstraint",
    "PianoRollRepresentation",
    "PianoRollTokenizer",
    "check_frames",
    "frame_token",
    "frames_to_piece",
    "pianoroll_vocab",
    "piece_to_frames",
    "sample_frames",
    "transpose_frames",
]
