"""Token representations, the vocabulary, encode and decode.

Two representations:

``timed`` (the default) follows the TSD scheme of MidiTok (Time-Shift-Duration,
Fradet et al. 2021) without velocity tokens: notes sorted by onset then pitch, a
``TimeShift_n`` token whenever the onset moves on (``n`` grid steps; longer gaps are
chained), then ``Pitch_p`` and ``Duration_n`` for each note. Times are quantized to
``steps_per_beat`` (4 = sixteenth notes, 12 = sixteenths and eighth-note triplets).
Decoding quantized music gives back the same notes, onsets and durations.

``classic`` is exactly the tutorial's music21 vocabulary: a single note is its pitch
name with octave (``E4``, ``B-3``), notes starting together are a chord written as
``'.'.join(normalOrder)`` (``0.4.7``). On decode every event lasts half a quarter
note, chord pitch classes are placed in octave 4, as the tutorial did.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from musegen.config import DataConfig
from musegen.errors import ConfigError
from musegen.notes import END, PITCH, START, Piece, make_notes

PAD, UNK, BOS = "<pad>", "<unk>", "<bos>"
SPECIALS = (PAD, UNK, BOS)
DEFAULT_VELOCITY = 80
CLASSIC_STEP = 0.5  # beats between classic events, and their length


@dataclass
class Vocabulary:
    """An ordered token list; ids 0, 1, 2 are always ``<pad>``, ``<unk>``, ``<bos>``."""

    tokens: list[str]
    representation: str
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if tuple(self.tokens[:3]) != SPECIALS:
            raise ConfigError("a vocabulary must start with <pad>, <unk>, <bos>; rebuild it with build_vocab().")
        self._index = {t: i for i, t in enumerate(self.tokens)}

    pad_id, unk_id, bos_id = 0, 1, 2

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: str) -> bool:
        return token in self._index

    def encode(self, tokens: Iterable[str]) -> np.ndarray:
        return np.fromiter((self._index.get(t, 1) for t in tokens), dtype=np.int32)

    def decode(self, ids: Iterable[int]) -> list[str]:
        n = len(self.tokens)
        return [self.tokens[i] if 0 <= i < n else UNK for i in (int(x) for x in ids)]

    def to_dict(self) -> dict[str, Any]:
        return {"representation": self.representation, "meta": self.meta, "tokens": self.tokens}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Vocabulary:
        try:
            return cls(list(d["tokens"]), str(d["representation"]), dict(d.get("meta", {})))
        except (KeyError, TypeError) as exc:
            raise ConfigError(f"vocab.json is not a musegen vocabulary (missing {exc}).") from exc

    def save(self, path: str | Path) -> None:
        from musegen.fileio import atomic_write_text

        atomic_write_text(Path(path), json.dumps(self.to_dict(), indent=1))

    @classmethod
    def load(cls, path: str | Path) -> Vocabulary:
        try:
            return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"cannot read the vocabulary {path}: {exc}") from exc


class Tokenizer(Protocol):
    representation: str

    def tokenize(self, piece: Piece) -> list[str]: ...

    def detokenize(self, tokens: Sequence[str], name: str = "generated") -> Piece: ...

    def build_vocab(self, token_lists: Iterable[list[str]]) -> Vocabulary: ...


def make_tokenizer(cfg: DataConfig) -> Tokenizer:
    """The tokenizer of ``cfg.representation``."""
    if cfg.representation == "timed":
        return TimedTokenizer(cfg.steps_per_beat, cfg.max_shift_beats * cfg.steps_per_beat)
    if cfg.representation == "classic":
        return ClassicTokenizer(cfg.min_token_count)
    if cfg.representation == "pianoroll":  # one token per frame, for statistics (musegen.pianoroll)
        from musegen.pianoroll import PianoRollTokenizer

        return PianoRollTokenizer(cfg.steps_per_beat)
    raise ConfigError(f"unknown representation {cfg.representation!r}; use 'timed', 'classic' or 'pianoroll'.")


def tokenizer_for_vocab(vocab: Vocabulary) -> Tokenizer:
    """The tokenizer a saved vocabulary was built with (its settings travel in ``meta``)."""
    if vocab.representation == "timed":
        return TimedTokenizer(int(vocab.meta["steps_per_beat"]), int(vocab.meta["max_steps"]))
    if vocab.representation == "classic":
        return ClassicTokenizer(int(vocab.meta.get("min_token_count", 1)))
    if vocab.representation == "pianoroll":
        from musegen.pianoroll import PianoRollTokenizer

        return PianoRollTokenizer(int(vocab.meta["steps_per_beat"]))
    raise ConfigError(f"vocabulary of unknown representation {vocab.representation!r}.")


# --------------------------------------------------------------------------- timed (TSD)


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


# --------------------------------------------------------------------------- classic (tutorial)

_NAME = re.compile(r"^([A-G])(#{1,2}|-{1,2})?(-?\d+)$")
_BASE = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


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


def parse_pitch_name(name: str) -> int | None:
    """'E4' -> 64, 'B-3' -> 58, 'C#5' -> 73; None when it is not a pitch name."""
    m = _NAME.match(name)
    if not m:
        return None
    letter, acc, octave = m.groups()
    shift = len(acc or "") * (1 if (acc or "#").startswith("#") else -1)
    midi = 12 * (int(octave) + 1) + _BASE[letter] + shift
    return midi if 0 <= midi <= 127 else None


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
