"""The timed representation: TSD tokens (Time-Shift-Duration, MidiTok; Fradet et al. 2021).

Notes sorted by onset then pitch, a ``TimeShift_n`` token whenever the onset moves on (``n``
grid steps; longer gaps are chained), then ``Pitch_p`` and ``Duration_n`` for each note, without
velocity. Times are quantized to ``steps_per_beat`` (4 = sixteenth notes, 12 = sixteenths and
eighth-note triplets). Decoding quantized music gives back the same notes, onsets and durations.
The vocabulary is closed: it depends on the grid settings, not on the data.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from musegen.config import DataConfig
from musegen.notes import DEFAULT_VELOCITY, END, PITCH, START, Piece, make_notes
from musegen.representations.tokens import TokenRepresentation
from musegen.representations.vocabulary import SPECIALS, Vocabulary


def quantize(piece: Piece, steps_per_beat: int, max_steps: int) -> np.ndarray:
    """Integer (N, 3) array [onset_step, duration_steps, pitch], sorted, duplicates removed.

    Durations are at least one step and at most ``max_steps``: what the timed tokens keep.
    """
    if not len(piece.notes):
        return np.zeros((0, 3), dtype=np.int64)
    onset = np.round(piece.notes[:, START] * steps_per_beat).astype(np.int64)
    offset = np.round(piece.notes[:, END] * steps_per_beat).astype(np.int64)
    dur = np.clip(offset - onset, 1, max_steps)
    q = np.stack([onset, dur, piece.notes[:, PITCH].astype(np.int64)], axis=1)
    q = q[np.lexsort((q[:, 2], q[:, 0]))]
    keep = np.ones(len(q), dtype=bool)
    keep[1:] = (q[1:, 0] != q[:-1, 0]) | (q[1:, 2] != q[:-1, 2])
    return q[keep]


@dataclass
class TimedTokenizer:
    """TSD tokens on a grid of ``steps_per_beat``; shifts and durations up to ``max_steps``."""

    steps_per_beat: int = 4
    max_steps: int = 32
    representation: str = "timed"

    def tokenize(self, piece: Piece) -> list[str]:
        out: list[str] = []
        now = 0
        for onset, dur, pitch in quantize(piece, self.steps_per_beat, self.max_steps).tolist():
            gap = onset - now
            while gap > 0:
                step = min(gap, self.max_steps)
                out.append(f"TimeShift_{step}")
                gap -= step
            now = onset
            out.append(f"Pitch_{pitch}")
            out.append(f"Duration_{dur}")
        return out

    def detokenize(self, tokens: Sequence[str], name: str = "generated") -> Piece:
        """Notes from tokens. Bad orders are repaired: a pitch without a duration lasts one
        beat, a duration without a pitch and every unknown token are skipped."""
        rows: list[tuple[float, float, int, int]] = []
        now, pending = 0, None
        default = self.steps_per_beat
        spb = float(self.steps_per_beat)

        def flush(dur: int) -> None:
            rows.append((now / spb, (now + dur) / spb, pending, DEFAULT_VELOCITY))

        for token in tokens:
            kind, _, value = token.partition("_")
            if not value.isdigit():
                continue
            n = int(value)
            if kind == "Pitch" and n <= 127:
                if pending is not None:
                    flush(default)
                pending = n
            elif kind == "Duration" and 1 <= n <= self.max_steps and pending is not None:
                flush(n)
                pending = None
            elif kind == "TimeShift" and 1 <= n <= self.max_steps:
                if pending is not None:
                    flush(default)
                    pending = None
                now += n
        if pending is not None:
            flush(default)
        return Piece(name, make_notes(rows), 120.0)

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
        return Vocabulary(tokens, "timed", meta)


class TimedRepresentation(TokenRepresentation):
    """TSD tokens on a grid; see the module doc."""

    name: ClassVar[str] = "timed"
    label: ClassVar[str] = "timed — exact pitches, durations and rests (TSD tokens)"
    tokenizer: TimedTokenizer

    @classmethod
    def from_config(cls, cfg: DataConfig) -> TimedRepresentation:
        tokenizer = TimedTokenizer(cfg.steps_per_beat, cfg.max_shift_beats * cfg.steps_per_beat)
        return cls(tokenizer, tokenizer.build_vocab())

    @classmethod
    def from_vocab(cls, vocab: Vocabulary) -> TimedRepresentation:
        spb = int(vocab.meta.get("steps_per_beat", DataConfig.steps_per_beat))
        max_steps = int(vocab.meta.get("max_steps", DataConfig.max_shift_beats * spb))
        return cls(TimedTokenizer(spb, max_steps), vocab)

    def unit_help(self) -> str:
        return "Timed tokens: about three per note (time shift, pitch, duration)."

    def time_cursor(self, ids: np.ndarray) -> float:
        tokens = self.vocab.decode(ids)
        steps = sum(int(t.rpartition("_")[2]) for t in tokens if t.startswith("TimeShift_"))
        return steps / float(self.tokenizer.steps_per_beat)

    def known_range(self) -> str:
        return "every MIDI pitch"
