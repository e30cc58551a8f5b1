"""Chord progressions as people write them: ``C | Am | F G7 | C``, ``Dm7 G7 | Cmaj7``, ``C/E``, ``N.C.``.

:func:`parse_progression` reads the text once, for the page, the command line and the sampling rule
(:mod:`musegen.steering.chord_rule`). Bars are separated by ``|``; the chords of a bar share its beats
equally (``F G7`` in 4/4: two beats each), or one beat per symbol when the bar is written with beat
slashes (``F / / G``: three beats of F, one of G; ``.`` works as well); ``%`` repeats the bar before.
``N.C.`` (or ``NC``) is a span with no chord: the chord rule leaves it free. A progression either
repeats for as long as the music goes or plays once, and the music after it is free.

The chord qualities are music21's (:class:`music21.harmony.ChordSymbol`, which knows ``m7b5``, ``sus4``,
``dim7``, ``6``, ``9``, ``add9``, ...); the root and the slash bass are read here first, because music21
spells a flat ``-`` and reads ``Bb7`` as B with a flat seventh, a different chord, without a word.
:func:`chord_tone_shares` measures the result: the share of note onsets, bar by bar, on a chord tone.
"""

from __future__ import annotations

import bisect
import math
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from musegen.config import ConstraintConfig
from musegen.errors import ConfigError
from musegen.notes import LETTERS, PITCH, PITCH_CLASSES, START, TONICS, Piece

NO_CHORD = ("N.C.", "N.C", "NC", "N/C")
BEAT_MARKS = ("/", ".")  # one more beat of the chord before
REPEAT_BAR = "%"
MAX_BARS = 512
EXAMPLES = "e.g. 'C | Am | F G7 | C', 'Dm7 G7 | Cmaj7', 'C/E', 'N.C.'"
_SYMBOL = re.compile(r"^([A-G])(#|b|♯|♭)?(.*?)(?:/([A-G])(#|b|♯|♭)?)?$")
_STRONG_TOLERANCE = 0.125  # beats: an onset this close to a strong beat is on it (played timing)


@dataclass(frozen=True)
class Chord:
    """One chord symbol: its pitch classes and its bass."""

    symbol: str  # as written, e.g. "G7", "C/E"
    tones: frozenset[int]  # pitch classes 0-11, the bass among them
    bass: int  # pitch class of the bass: the slash note, else the root

    @property
    def spelled(self) -> str:
        """The tones in words, root first: "G B D F"."""
        order = sorted(self.tones, key=lambda pc: (pc - self.bass) % 12)
        return " ".join(TONICS[pc] for pc in order)


@dataclass(frozen=True)
class ChordSpan:
    """A chord (None: N.C.) over beats [start, end) of the progression."""

    start: float
    end: float
    chord: Chord | None
    bar: int  # 0-based bar of the progression

    @property
    def label(self) -> str:
        return self.chord.symbol if self.chord is not None else "N.C."


@dataclass(frozen=True)
class Progression:
    """Chords over beats, from the start of the generated music (see the module doc)."""

    spans: tuple[ChordSpan, ...]
    beats_per_bar: int
    repeat: bool  # True: it starts again at its end, for as long as the music goes

    @property
    def beats(self) -> float:
        return self.spans[-1].end

    @property
    def bars(self) -> int:
        return self.spans[-1].bar + 1

    @property
    def chords(self) -> list[Chord]:
        """Every distinct chord, in order of appearance."""
        seen: dict[str, Chord] = {}
        for span in self.spans:
            if span.chord is not None:
                seen.setdefault(span.chord.symbol, span.chord)
        return list(seen.values())

    def locate(self, beat: float) -> tuple[int, ChordSpan | None]:
        """(which chord it is, counting every span of every repeat from 0; the span) at ``beat``;
        (-1, None) before the start and after the end of a progression that does not repeat."""
        index, span, _ = self._find(beat)
        return index, span

    def _find(self, beat: float) -> tuple[int, ChordSpan | None, float]:
        if beat < 0 or (beat >= self.beats and not self.repeat):
            return -1, None, 0.0
        turn, at = divmod(beat, self.beats)
        i = bisect.bisect_right([s.start for s in self.spans], at) - 1
        return int(turn) * len(self.spans) + i, self.spans[i], turn * self.beats + self.spans[i].start

    def is_strong(self, beat: float) -> bool:
        """Whether ``beat`` falls on a strong beat: a bar's first, the middle of a bar of 4 beats or more
        (beat 3 of 4/4), or a chord change. Every other onset is weak (beats 2 and 4, off-beats)."""
        _, span, start = self._find(beat)
        if span is not None and beat - start < _STRONG_TOLERANCE:
            return True
        bar = self.beats_per_bar
        strong = [0.0, float(bar)] + ([bar / 2] if bar >= 4 and bar % 2 == 0 else [])
        position = beat % bar
        return any(abs(position - s) < _STRONG_TOLERANCE for s in strong)

    def placed(self, origin: float, until: float) -> list[tuple[float, float, str]]:
        """(start, end, symbol) of the chords from beat ``origin`` (the progression's start) up to ``until``,
        repeats included: what a piano roll draws over its notes."""
        out: list[tuple[float, float, str]] = []
        turn = 0
        while origin + turn * self.beats < until and (turn == 0 or self.repeat):
            for span in self.spans:
                start = origin + turn * self.beats + span.start
                if start >= until:
                    break
                out.append((start, min(start + span.end - span.start, until), span.label))
            turn += 1
        return out


def parse_chord(symbol: str) -> Chord | None:
    """'G7' -> Chord('G7', {7, 11, 2, 5}, 7); 'C/E' -> bass 4; 'N.C.' -> None. A ConfigError names a bad symbol."""
    text = symbol.strip()
    if text.upper() in NO_CHORD:
        return None
    return _chord(text)


@lru_cache(maxsize=512)
def _chord(text: str) -> Chord:
    m = _SYMBOL.match(text)
    if not m:
        raise ConfigError(f"{text!r} is not a chord symbol: it must begin with a root, A to G ({EXAMPLES}).")
    root, accidental, quality, bass_letter, bass_accidental = m.groups()
    root_pc = _pitch_class(root, accidental)
    bass_pc = _pitch_class(bass_letter, bass_accidental) if bass_letter else root_pc
    from music21 import harmony  # lazily: a second to import, only where chords are read

    figure = PITCH_CLASSES[root_pc] + quality  # the root as music21 spells it: sharps only
    try:
        tones = {p.pitchClass for p in harmony.ChordSymbol(figure).pitches}
    except Exception as exc:  # music21 raises ValueError, and others on odd alterations
        raise ConfigError(
            f"{text!r} is not a chord symbol music21 knows: {quality!r} is not a chord quality. Write a root and a "
            "quality such as m, 7, maj7, m7, m7b5, dim, dim7, aug, sus4, 6, 9, add9, with a bass after a slash "
            f"if you like ({EXAMPLES})."
        ) from exc
    return Chord(text, frozenset(tones | {bass_pc}), bass_pc)


def _pitch_class(letter: str, accidental: str | None) -> int:
    shift = {"#": 1, "♯": 1, "b": -1, "♭": -1}.get(accidental or "", 0)
    return (LETTERS[letter] + shift) % 12


def parse_progression(text: str, beats_per_bar: int = 4, repeat: bool = True) -> Progression:
    """The progression of ``text`` (see the module doc); a ConfigError says which bar or symbol is wrong."""
    if not 1 <= int(beats_per_bar) <= 16:
        raise ConfigError(f"beats per bar must be from 1 to 16, got {beats_per_bar}.")
    bars = [bar.split() for bar in (text or "").strip().strip("|").split("|")]
    if not any(bars):
        raise ConfigError(f"the chord progression is empty; write chords separated by bars, {EXAMPLES}.")
    if len(bars) > MAX_BARS:
        raise ConfigError(f"the chord progression has {len(bars)} bars; at most {MAX_BARS} (it can repeat).")
    spans: list[ChordSpan] = []
    previous: list[str] = []
    for b, symbols in enumerate(bars):
        if symbols == [REPEAT_BAR]:
            if not previous:
                raise ConfigError("the first bar is '%', which repeats the bar before; write its chords.")
            symbols = previous
        if not symbols:
            raise ConfigError(f"bar {b + 1} is empty; write a chord, or N.C. for none ({EXAMPLES}).")
        spans += _bar(symbols, b, int(beats_per_bar))
        previous = symbols
    return Progression(tuple(spans), int(beats_per_bar), bool(repeat))


def _bar(symbols: list[str], bar: int, beats: int) -> list[ChordSpan]:
    """The spans of one bar: equal shares of its beats, or one beat per symbol with beat slashes."""
    where = f"bar {bar + 1} ({' '.join(symbols)})"
    if symbols[0] in BEAT_MARKS:
        raise ConfigError(f"{where} begins with {symbols[0]!r}, which continues a chord; begin it with a chord.")
    slashed = any(s in BEAT_MARKS for s in symbols)
    if slashed and len(symbols) != beats:
        raise ConfigError(f"{where} has {len(symbols)} beats written with slashes; a bar has {beats}.")
    chords: list[tuple[Chord | None, int]] = []  # (chord, beats or symbols it lasts)
    for s in symbols:
        if s in BEAT_MARKS:
            chords[-1] = (chords[-1][0], chords[-1][1] + 1)
            continue
        try:
            chords.append((parse_chord(s), 1))
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    unit = 1.0 if slashed else beats / len(chords)
    spans, at = [], float(bar * beats)
    for chord, n in chords:
        spans.append(ChordSpan(at, at + n * unit, chord, bar))
        at += n * unit
    return spans


def progression_of(cfg: ConstraintConfig | None) -> Progression | None:
    """The progression a :class:`ConstraintConfig` names; None when it names none."""
    if cfg is None or not cfg.chords.strip():
        return None
    return parse_progression(cfg.chords, cfg.beats_per_bar, cfg.chord_repeat)


def chord_marks(cfg: ConstraintConfig | None, origin: float, until: float) -> list[tuple[float, float, str]]:
    """(start, end, symbol) of the chords of ``cfg``'s progression from ``origin`` to ``until`` (beats), for a
    piano roll; [] when there is none."""
    progression = progression_of(cfg)
    return progression.placed(origin, max(until, origin)) if progression is not None else []


def chord_report(pieces: list[Piece], cfg: ConstraintConfig | None, origin: float = 0.0) -> dict | None:
    """What the front ends show of the chords under generated ``pieces`` (their notes placed where they sound,
    the progression starting at ``origin``): the share of chord tones overall and bar by bar, per piece."""
    if (progression := progression_of(cfg)) is None:
        return None

    def rounded(share: float) -> float | None:
        return None if math.isnan(share) else round(share, 3)

    return {
        "progression": " ".join(cfg.chords.split()),
        "share": rounded(chord_tone_share(pieces, progression, origin)),
        "shares": [rounded(chord_tone_share([p], progression, origin)) for p in pieces],
        "bars": [chord_tone_shares(p, progression, origin) for p in pieces],
    }


def chord_tone_shares(piece: Piece, progression: Progression, origin: float = 0.0) -> list[dict]:
    """Bar by bar (from ``origin``, where the progression starts), the note onsets under a chord and the share
    of them on a chord tone: ``{"bar": 1, "chords": "F G7", "onsets": 6, "chord_tones": 5, "share": 0.833}``.
    Bars with no onset under a chord are left out; onsets under N.C. do not count."""
    rows: dict[int, dict] = {}
    for start, pitch in zip(piece.notes[:, START].tolist(), piece.notes[:, PITCH].tolist(), strict=True):
        beat = start - origin
        _, span = progression.locate(beat)
        if span is None or span.chord is None:
            continue
        bar = math.floor(beat / progression.beats_per_bar + 1e-9)
        row = rows.setdefault(bar, {"bar": bar + 1, "chords": _bar_label(progression, bar), "onsets": 0, "hits": 0})
        row["onsets"] += 1
        row["hits"] += int(pitch) % 12 in span.chord.tones
    return [
        {"bar": r["bar"], "chords": r["chords"], "onsets": r["onsets"], "chord_tones": r["hits"],
         "share": round(r["hits"] / r["onsets"], 3)}
        for _, r in sorted(rows.items())
    ]  # fmt: skip


def chord_tone_share(pieces: list[Piece], progression: Progression, origin: float = 0.0) -> float:
    """The share of all note onsets under a chord that are chord tones (NaN when there are none)."""
    rows = [r for p in pieces for r in chord_tone_shares(p, progression, origin)]
    onsets = sum(r["onsets"] for r in rows)
    return sum(r["chord_tones"] for r in rows) / onsets if onsets else float("nan")


def _bar_label(progression: Progression, bar: int) -> str:
    bar %= progression.bars
    return " ".join(s.label for s in progression.spans if s.bar == bar)


def tone_mask(chord: Chord) -> np.ndarray:
    """(128,) bool: the MIDI pitches that are tones of ``chord``."""
    return np.isin(np.arange(128) % 12, sorted(chord.tones))
