"""The classic representation: exactly the tutorial's music21 vocabulary.

A single note is its pitch name with octave (``E4``, ``B-3``); notes starting together are a
chord written as ``'.'.join(normalOrder)`` (``0.4.7``). On decode every event lasts half a
quarter note and chord pitch classes are placed in octave 4, as the tutorial did. The
vocabulary is fitted on the training pieces (tokens seen fewer than ``min_token_count`` times
become ``<unk>``). Besides the WaveNet and the LSTM, the tutorial's own two models read it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar

import numpy as np

from musegen.config import ARCHITECTURES, DataConfig
from musegen.notes import DEFAULT_VELOCITY, PITCH, START, Piece, make_notes, parse_pitch_name
from musegen.representations.tokens import TokenRepresentation
from musegen.vocabulary import SPECIALS, Vocabulary

CLASSIC_STEP = 0.5  # beats between classic events, and their length


@lru_cache(maxsize=128)
def pitch_name(midi: int) -> str:
    """music21's default spelling of a MIDI pitch, e.g. 70 -> 'B-4' (as the tutorial's tokens)."""
    from music21 import pitch

    return pitch.Pitch(midi=midi).nameWithOctave


@lru_cache(maxsize=4096)
def normal_order(pitch_classes: frozenset[int]) -> str:
    """music21's ``Chord.normalOrder`` joined by dots, e.g. {0, 4, 7} -> '0.4.7'."""
    from music21 import chord

    return ".".join(str(pc) for pc in chord.Chord(sorted(pitch_classes)).normalOrder)


@dataclass
class ClassicTokenizer:
    """The tutorial's tokens: pitch names and chord normal orders, one per onset."""

    min_token_count: int = 1
    representation: str = "classic"

    def tokenize(self, piece: Piece) -> list[str]:
        out: list[str] = []
        notes = piece.notes
        if not len(notes):
            return out
        starts = notes[:, START]
        bounds = np.flatnonzero(np.diff(starts) > 1e-6) + 1
        for group in np.split(notes[:, PITCH].astype(int), bounds):
            if len(set(group.tolist())) == 1:
                out.append(pitch_name(int(group[0])))
            else:
                out.append(normal_order(frozenset(int(p) % 12 for p in group)))
        return out

    def detokenize(self, tokens: Sequence[str], name: str = "generated") -> Piece:
        """Every event lasts half a beat; chords in octave 4; unknown tokens are rests."""
        rows: list[tuple[float, float, int, int]] = []
        for i, token in enumerate(tokens):
            start = i * CLASSIC_STEP
            if "." in token or token.isdigit():
                parts = token.split(".")
                if all(p.isdigit() and int(p) < 12 for p in parts):
                    rows.extend((start, start + CLASSIC_STEP, 60 + int(p), DEFAULT_VELOCITY) for p in parts)
                continue
            midi = parse_pitch_name(token)
            if midi is not None:
                rows.append((start, start + CLASSIC_STEP, midi, DEFAULT_VELOCITY))
        return Piece(name, make_notes(rows), 120.0)

    def build_vocab(self, token_lists: Iterable[list[str]]) -> Vocabulary:
        """Tokens seen at least ``min_token_count`` times, most frequent first."""
        counts = Counter(t for tokens in token_lists for t in tokens)
        kept = sorted((t for t, c in counts.items() if c >= self.min_token_count), key=lambda t: (-counts[t], t))
        meta = {"min_token_count": self.min_token_count, "event_beats": CLASSIC_STEP}
        return Vocabulary([*SPECIALS, *kept], "classic", meta)


class ClassicRepresentation(TokenRepresentation):
    """The tutorial's notes and chords; see the module doc."""

    name: ClassVar[str] = "classic"
    label: ClassVar[str] = "classic — the tutorial's notes and chords, every event ½ beat"
    archs: ClassVar[tuple[str, ...]] = ARCHITECTURES  # the tutorial's models read only these tokens
    uses_grid: ClassVar[bool] = False
    unit_name: ClassVar[str] = "events"
    tokenizer: ClassicTokenizer

    @classmethod
    def from_config(cls, cfg: DataConfig) -> ClassicRepresentation:
        return cls(ClassicTokenizer(cfg.min_token_count), fim=cfg.fim_rate > 0)

    @classmethod
    def from_vocab(cls, vocab: Vocabulary) -> ClassicRepresentation:
        return cls(ClassicTokenizer(int(vocab.meta.get("min_token_count", 1))), vocab)

    def unit_help(self) -> str:
        return "The tutorial's events: one note or chord each, every one half a beat long."

    def time_cursor(self, ids: np.ndarray) -> float:
        return len(ids) * CLASSIC_STEP  # the decoder places token i at i * CLASSIC_STEP

    def tokens_per_beat(self, samples: Sequence[np.ndarray] = ()) -> float:
        return 1.0 / CLASSIC_STEP

    def known_range(self) -> str:
        midis = [m for m in (parse_pitch_name(t) for t in self.vocab.tokens) if m is not None]
        if not midis:
            return "no single pitches, only chords"
        return f"pitches {pitch_name(min(midis))}-{pitch_name(max(midis))}"

    def element_notes(self, ids: np.ndarray) -> np.ndarray:
        """One token per event: a note is its event's token, which every note of a chord shares.

        Tokens are read as :meth:`ClassicTokenizer.detokenize` reads them (unknown tokens make no note).
        """
        starts: list[float] = []  # the notes in the order detokenize makes them
        pitches: list[int] = []
        elements: list[int] = []
        for i, token in enumerate(self.vocab.decode(np.asarray(ids).reshape(-1))):
            if "." in token or token.isdigit():
                parts = token.split(".")
                if all(p.isdigit() and int(p) < 12 for p in parts):
                    for p in parts:
                        starts.append(i * CLASSIC_STEP)
                        pitches.append(60 + int(p))
                        elements.append(i)
                continue
            midi = parse_pitch_name(token)
            if midi is not None:
                starts.append(i * CLASSIC_STEP)
                pitches.append(midi)
                elements.append(i)
        order = np.lexsort((pitches, starts))  # as make_notes sorts decode's notes
        rank = np.empty(len(order), np.int64)
        rank[order] = np.arange(len(order))
        return np.stack([np.asarray(elements, np.int64), rank], axis=1)
