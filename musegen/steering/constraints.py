"""Rules at sampling time: keep to a key, a pitch range, a most-notes-at-once, a well-formed grammar.

A :class:`Constraint` watches one batch of generated sequences and, before every sampling step,
says which next elements are allowed (everything else gets zero probability, so the rest of the
distribution keeps its proportions: the model's choice among what the rules allow). The decoding
loop (:func:`musegen.generation.decode.generate`) calls it through :meth:`Constraint.wrap`;
with no constraint, the loop is exactly as before.

Each representation builds its own (:meth:`musegen.representations.base.Representation.constraint`):
the timed tokens track the time cursor, the notes sounding and the grammar of TSD
(:class:`musegen.representations.timed` ``TimedConstraint``), the classic tokens mask whole events,
piano-roll frames mask keys. Infilling is a constraint too: the middle must end exactly where the
suffix begins, and may only place notes inside the chosen span.

This module holds what they share: key and scale names, the pitch mask, and the base class.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from musegen.config import ConstraintConfig, SamplingConfig
from musegen.errors import ConfigError
from musegen.notes import LETTERS, LOWEST_PIANO_PITCH, PIANO_KEYS, TONICS
from musegen.steering.chord_rule import ChordRule

# intervals above the tonic; "minor" is the natural minor, "harmonic minor" adds the raised seventh
SCALES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "harmonic minor": (0, 2, 3, 5, 7, 8, 11),
    "melodic minor": (0, 2, 3, 5, 7, 9, 11),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
    "lydian": (0, 2, 4, 6, 7, 9, 11),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "locrian": (0, 1, 3, 5, 6, 8, 10),
    "pentatonic": (0, 2, 4, 7, 9),
    "minor pentatonic": (0, 3, 5, 7, 10),
    "blues": (0, 3, 5, 6, 7, 10),
    "whole tone": (0, 2, 4, 6, 8, 10),
    "chromatic": tuple(range(12)),
}
ALIASES = {
    "ionian": "major",
    "aeolian": "minor",
    "natural minor": "minor",
    "maj": "major",
    "min": "minor",
    "m": "minor",
}
KEY_EXAMPLES = "e.g. 'D minor', 'F# major', 'Bb dorian', 'C pentatonic'"
_KEY = re.compile(r"^\s*([a-gA-G])\s*(#|b|♯|♭|-|sharp|flat)?\s*(.*?)\s*$")


@dataclass(frozen=True)
class Scale:
    """A tonic and the pitch classes of its scale."""

    tonic: int  # pitch class 0-11
    mode: str  # a name of SCALES
    pitch_classes: frozenset[int]

    @property
    def label(self) -> str:
        return f"{TONICS[self.tonic]} {self.mode}"


def parse_key(name: str) -> Scale:
    """'D minor' -> Scale(2, 'minor', {2, 4, 5, 7, 9, 10, 0}); a bare tonic ('G') is major.

    Accidentals: '#', 'b', '-', 'sharp', 'flat'. A ConfigError names the scales when the name is unknown.
    """
    m = _KEY.match(name or "")
    if not m:
        raise ConfigError(f"{name!r} is not a key; write a tonic and a scale, {KEY_EXAMPLES}.")
    letter, accidental, mode = m.groups()
    tonic = LETTERS[letter.upper()]
    if accidental in ("#", "♯", "sharp"):
        tonic += 1
    elif accidental in ("b", "♭", "-", "flat"):
        tonic -= 1
    mode = " ".join(mode.lower().split()) or "major"
    mode = ALIASES.get(mode, mode)
    if mode not in SCALES:
        raise ConfigError(f"unknown scale {mode!r} in {name!r}; choose one of: {', '.join(SCALES)} ({KEY_EXAMPLES}).")
    tonic %= 12
    return Scale(tonic, mode, frozenset((tonic + i) % 12 for i in SCALES[mode]))


def pitch_mask(cfg: ConstraintConfig) -> np.ndarray:
    """(128,) bool: the MIDI pitches the key and the range allow; a ConfigError when that leaves none."""
    cfg.validate()
    allowed = np.zeros(128, dtype=bool)
    allowed[cfg.low : cfg.high + 1] = True
    if cfg.key.strip():
        scale = parse_key(cfg.key)
        allowed &= np.isin(np.arange(128) % 12, sorted(scale.pitch_classes))
    if not allowed.any():
        raise ConfigError(
            f"no pitch from {cfg.low} to {cfg.high} is in {cfg.key}; widen the pitch range or choose another key."
        )
    return allowed


def describe(cfg: ConstraintConfig | None) -> str:
    """The rules in words, for captions and the CLI: "in D minor, pitches 48-84, at most 3 notes at once"."""
    if cfg is None or not cfg.active:
        return "no constraints"
    parts = []
    if cfg.key.strip():
        parts.append(f"in {parse_key(cfg.key).label}")
    if cfg.low > 0 or cfg.high < 127:
        parts.append(f"pitches {cfg.low}-{cfg.high}")
    if cfg.max_polyphony:
        parts.append(f"at most {cfg.max_polyphony} note{'s' * (cfg.max_polyphony > 1)} at once")
    if cfg.grammar:
        parts.append("well-formed tokens")
    if cfg.chords.strip():
        parts.append(describe_chords(cfg))
    return ", ".join(parts)


def describe_chords(cfg: ConstraintConfig) -> str:
    """The chord rule in words: "over C | Am | F G7 | C (hard, 4 beats a bar, repeated, the bass on each chord's)"."""
    how = [cfg.chord_mode if cfg.chord_mode == "hard" else f"soft, strength {cfg.chord_strength:g}"]
    how.append(f"{cfg.beats_per_bar} beat{'s' * (cfg.beats_per_bar > 1)} a bar")
    how.append("repeated" if cfg.chord_repeat else "once")
    if cfg.passing_tones and cfg.chord_mode == "hard":
        how.append("passing tones on weak beats")
    if cfg.chord_bass:
        how.append("the bass on each chord's")
    return f"over {' '.join(cfg.chords.split())} ({', '.join(how)})"


NO_KEY = "Any"  # the key choice that keeps to no key
KEYBOARD = (LOWEST_PIANO_PITCH, LOWEST_PIANO_PITCH + PIANO_KEYS - 1)  # A0-C8: a pitch-range widget's ends


def key_name(tonic: str, scale: str) -> str:
    """The key of a tonic choice and a scale choice ("" for :data:`NO_KEY`): ("D", "minor") -> "D minor"."""
    return "" if tonic in ("", NO_KEY) else f"{tonic} {scale}".strip()


def keyboard_range(low: int, high: int) -> tuple[int, int]:
    """A pitch-range widget's choice as a rule: the whole keyboard (:data:`KEYBOARD`) means no range rule."""
    return (0, 127) if (int(low), int(high)) == KEYBOARD else (int(low), int(high))


EVENT_KEYS = 10  # performance runs: most keys sounding at once unless a person says otherwise (a pianist's)
EVENT_RULES = f"{EVENT_KEYS} by default, and a note is released after {ConstraintConfig.max_note_seconds:g} s"


def default_polyphony(unit: str) -> int:
    """The notes-at-once rule a run gets unless a person sets one: :data:`EVENT_KEYS` for performance events
    (whose models, short-trained, leave notes sounding; Magenta's Performance RNN decoding caps them too),
    none (0) for the others."""
    return EVENT_KEYS if unit == "event" else 0


def constraint_choice(
    *,
    key: str = "",
    low: int = 0,
    high: int = 127,
    max_polyphony: int | None = None,
    grammar: bool = True,
    unit: str = "token",
    chords: ChordChoice | None = None,
    max_note_seconds: float = ConstraintConfig.max_note_seconds,
) -> ConstraintConfig:
    """The one builder of a :class:`ConstraintConfig` from a person's choices (the Generate page's "Keep to"
    widgets, the ``generate`` command's flags), checked: a key that is not a key, a range the key leaves
    empty, a chord symbol that is not one, or a chord the key and range leave no tone of, fails here with
    what to change. The grammar rule is for token and event runs (``unit``); piano-roll frames are always
    well formed. ``max_polyphony`` None is the run's default (:func:`default_polyphony`); 0 is no limit."""
    cfg = ConstraintConfig(
        key=key_name(key, "") if key == NO_KEY else (key or "").strip(),
        low=int(low),
        high=int(high),
        max_polyphony=default_polyphony(unit) if max_polyphony is None else int(max_polyphony),
        grammar=bool(grammar) and unit != "frame",
        max_note_seconds=float(max_note_seconds),
    )
    if chords is not None and chords.text.strip():
        cfg = dataclasses.replace(cfg, **chords.fields())
    cfg.validate()
    available = pitch_mask(cfg)
    if cfg.chords:
        ChordRule(cfg, available, "the key and the pitch range")
    return cfg


@dataclass(frozen=True)
class ChordChoice:
    """A person's chord choices (the Generate page's chord widgets, ``generate --chords``)."""

    text: str  # the progression, e.g. "C | Am | F G7 | C"
    beats_per_bar: int = 4
    repeat: bool = True
    mode: str = "hard"
    strength: float = 2.0
    passing_tones: bool = False
    bass: bool = False

    def fields(self) -> dict[str, Any]:
        """The :class:`ConstraintConfig` fields it sets."""
        return {
            "chords": " ".join(self.text.split()),
            "beats_per_bar": int(self.beats_per_bar),
            "chord_repeat": bool(self.repeat),
            "chord_mode": str(self.mode),
            "chord_strength": float(self.strength),
            "passing_tones": bool(self.passing_tones),
            "chord_bass": bool(self.bass),
        }


DrawFn = Callable[[np.ndarray, SamplingConfig, np.random.Generator], np.ndarray]


class Constraint:
    """The rules of one batch of generated sequences; see the module doc.

    Subclasses implement :meth:`allowed` (what may come next in every row, (B, width) bool) and
    :meth:`observe` (the elements just drawn); :meth:`prime` reads the prompt. ``done`` marks rows
    that have finished (an infilled middle that reached the suffix); the loop stops when all have.
    ``fallbacks`` counts steps where the rules left nothing (never expected; the row then gets the
    subclass's way out), so tests can assert that no sequence was ever cornered.
    """

    def __init__(self, batch: int):
        self.batch = int(batch)
        self.done = np.zeros(self.batch, dtype=bool)
        self.fallbacks = 0

    def prime(self, prompt: np.ndarray) -> None:
        """Read the prompt (B, T, ...) the model is primed with."""

    def allowed(self) -> np.ndarray:
        raise NotImplementedError

    def observe(self, drawn: np.ndarray) -> None:
        raise NotImplementedError

    def bias(self) -> np.ndarray | None:
        """(B, width) added to the next logits (a soft rule, such as the soft chord rule); None: nothing."""
        return None

    def wrap(self, draw: DrawFn, stepper: Any = None) -> DrawFn:
        """``draw`` with the rules applied: disallowed elements get -inf logits, a soft rule's bias is added,
        then the draw is observed."""

        def constrained(logits: np.ndarray, cfg: SamplingConfig, rng: np.random.Generator) -> np.ndarray:
            mask = self.allowed()
            z = np.where(mask, np.asarray(logits, dtype=np.float64), -np.inf)
            if (bias := self.bias()) is not None:
                z = z + bias
            drawn = draw(z, cfg, rng)
            self.observe(drawn)
            return drawn

        return constrained
