"""The piano roll's codec: pieces <-> (T, 88) multi-hot frames, one token per frame, the fixed vocabulary."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from musegen.errors import ConfigError
from musegen.notes import DEFAULT_VELOCITY, END, LOWEST_PIANO_PITCH, PIANO_KEYS, PITCH, START, Piece, make_notes
from musegen.vocabulary import SPECIALS, Vocabulary

LOWEST_PITCH = LOWEST_PIANO_PITCH  # A0, key 0
N_KEYS = PIANO_KEYS  # A0..C8 (MIDI 21-108)
REPRESENTATION = "pianoroll"
REST = "Frame_rest"


def piece_to_frames(piece: Piece, steps_per_beat: int) -> np.ndarray:
    """(T, 88) uint8 multi-hot frames of ``piece``; T covers its last note-off (0 frames if empty)."""
    if steps_per_beat < 1:
        raise ConfigError(f"steps_per_beat must be at least 1, got {steps_per_beat}.")
    notes = piece.notes
    keys = notes[:, PITCH].astype(np.int64) - LOWEST_PITCH
    on_piano = (keys >= 0) & (keys < N_KEYS)
    onset = np.round(notes[:, START] * steps_per_beat).astype(np.int64)
    offset = np.maximum(onset + 1, np.round(notes[:, END] * steps_per_beat).astype(np.int64))
    onset, offset, keys = onset[on_piano], offset[on_piano], keys[on_piano]
    n_frames = int(offset.max()) if len(offset) else 0
    frames = np.zeros((n_frames, N_KEYS), dtype=np.uint8)
    for a, b, k in zip(onset.tolist(), offset.tolist(), keys.tolist(), strict=True):
        frames[max(a, 0) : b, k] = 1
    return frames


def frames_to_piece(frames: np.ndarray, steps_per_beat: int, name: str = "generated", tempo: float = 120.0) -> Piece:
    """Notes from frames: each run of consecutive 1s of a key is one note (velocity 80)."""
    frames = check_frames(frames)
    padded = np.zeros((len(frames) + 2, N_KEYS), dtype=np.int8)
    padded[1:-1] = frames
    edges = np.diff(padded, axis=0)  # +1 where a key goes down, -1 where it comes up
    start_t, start_k = np.nonzero(edges == 1)
    end_t, end_k = np.nonzero(edges == -1)
    # runs of one key start and end in time order, so sorting by (key, time) pairs them up
    starts = start_t[np.lexsort((start_t, start_k))]
    ends = end_t[np.lexsort((end_t, end_k))]
    keys = np.sort(start_k)
    spb = float(steps_per_beat)
    rows = np.stack(
        [starts / spb, ends / spb, (keys + LOWEST_PITCH).astype(np.float64), np.full(len(keys), DEFAULT_VELOCITY)],
        axis=1,
    )
    return Piece(name, make_notes(rows), tempo)


def transpose_frames(frames: np.ndarray, semitones: int) -> np.ndarray:
    """``frames`` shifted by ``semitones`` along the keys; keys pushed off the keyboard are dropped."""
    out = np.zeros_like(frames)
    if semitones >= 0:
        out[:, semitones:] = frames[:, : N_KEYS - semitones]
    else:
        out[:, :semitones] = frames[:, -semitones:]
    return out


def check_frames(frames: Any) -> np.ndarray:
    """``frames`` as a (T, 88) uint8 array of 0/1, or a ConfigError that says what is wrong."""
    arr = np.asarray(frames)
    if arr.ndim != 2 or arr.shape[1] != N_KEYS:
        raise ConfigError(f"piano-roll frames must have shape (T, {N_KEYS}); got {arr.shape}.")
    if arr.size and not np.isin(arr, (0, 1)).all():
        raise ConfigError("piano-roll frames must hold only 0 and 1 (key up / key down).")
    return arr.astype(np.uint8)


# --------------------------------------------------------------------------- tokens and vocabulary


def pianoroll_vocab(steps_per_beat: int) -> Vocabulary:
    """The fixed vocabulary of a piano-roll run: the specials, then one entry per key (``Key_21``..``Key_108``)."""
    keys = [f"Key_{LOWEST_PITCH + k}" for k in range(N_KEYS)]
    meta = {"steps_per_beat": int(steps_per_beat), "lowest_pitch": LOWEST_PITCH, "keys": N_KEYS}
    return Vocabulary([*SPECIALS, *keys], REPRESENTATION, meta)


@dataclass
class PianoRollTokenizer:
    """One token per frame (for statistics and seeds): ``Frame_<pitches joined by '.'>`` or ``Frame_rest``."""

    steps_per_beat: int = 4
    representation: str = REPRESENTATION

    def tokenize(self, piece: Piece) -> list[str]:
        return [frame_token(f) for f in piece_to_frames(piece, self.steps_per_beat)]

    def detokenize(self, tokens: Sequence[str], name: str = "generated") -> Piece:
        """Frames from frame tokens (unknown tokens read as rests), then notes."""
        frames = np.zeros((len(tokens), N_KEYS), dtype=np.uint8)
        for t, token in enumerate(tokens):
            kind, _, value = token.partition("_")
            if kind != "Frame" or value == "rest":
                continue
            for part in value.split("."):
                if part.isdigit() and 0 <= int(part) - LOWEST_PITCH < N_KEYS:
                    frames[t, int(part) - LOWEST_PITCH] = 1
        return frames_to_piece(frames, self.steps_per_beat, name)

    def build_vocab(self, token_lists: Any = ()) -> Vocabulary:
        return pianoroll_vocab(self.steps_per_beat)


def frame_token(frame: np.ndarray) -> str:
    keys = np.flatnonzero(frame)
    return "Frame_" + ".".join(str(int(k) + LOWEST_PITCH) for k in keys) if len(keys) else REST
