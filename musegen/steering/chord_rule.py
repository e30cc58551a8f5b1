"""The chord rule at sampling time: which pitches a note that begins at a given beat may have.

Each representation's constraint asks it at every note it may begin (timed tokens at their time
cursor, performance events at their clock, piano-roll frames at their frame), so the rule is written
once and the constraints only say where they are in time:

- hard: a note that begins under a chord is one of its tones (any octave); with ``passing_tones``, a
  note that begins on a weak beat (:meth:`Progression.is_strong`) may be any pitch the other rules allow;
- soft: a note that is not a chord tone keeps its chance divided by ``e**chord_strength`` (its logit
  lowered by the strength), so the model may still play it where it is sure;
- ``chord_bass`` (either mode): the first note begun under each chord is on its bass (a slash chord's
  slash note, else its root); in the token runs the notes of one onset rise, so it is the lowest one.

The key and the range still hold (the rule only narrows what they allow); a chord none of whose tones
the key, the range and the model's pitches leave, in hard mode, is a ConfigError naming the chord.
"""

from __future__ import annotations

import numpy as np

from musegen.config import ConstraintConfig
from musegen.errors import ConfigError
from musegen.steering.chords import Chord, Progression, parse_progression, tone_mask


class ChordRule:
    """The chord rule of ``cfg`` over the pitches ``available`` ((128,) bool: what the key, the range and
    the model's vocabulary allow); times are beats from where the progression starts."""

    def __init__(self, cfg: ConstraintConfig, available: np.ndarray, what: str = "the model's pitches"):
        self.progression: Progression = parse_progression(cfg.chords, cfg.beats_per_bar, cfg.chord_repeat)
        self.hard = cfg.chord_mode == "hard"
        self.penalty = float(cfg.chord_strength)
        self.passing = bool(cfg.passing_tones) and self.hard
        self.bass = bool(cfg.chord_bass)
        self.available = np.asarray(available, dtype=bool)
        self._tones = {c.symbol: tone_mask(c) for c in self.progression.chords}
        self._bass = {c.symbol: np.arange(128) % 12 == c.bass for c in self.progression.chords}
        for chord in self.progression.chords:
            self._check(chord, what)

    @classmethod
    def of(
        cls, cfg: ConstraintConfig | None, available: np.ndarray, what: str = "the model's pitches"
    ) -> ChordRule | None:
        """The rule when ``cfg`` names a progression, else None."""
        return cls(cfg, available, what) if cfg is not None and cfg.chords.strip() else None

    def _check(self, chord: Chord, what: str) -> None:
        rules = "the key and the pitch range" if not self.available.all() else "the pitches"
        if self.hard and not (self._tones[chord.symbol] & self.available).any():
            raise ConfigError(
                f"no tone of {chord.symbol} ({chord.spelled}) is among {rules} allowed ({what}); change the key or "
                "widen the range, change the chord, or use the soft chord rule."
            )
        if self.bass and not (self._bass[chord.symbol] & self.available).any():
            raise ConfigError(
                f"the bass of {chord.symbol} ({chord.spelled.split()[0]}) is not among {rules} allowed ({what}); "
                "widen the range or turn the bass rule off."
            )

    def span(self, beat: float) -> int:
        """Which chord (counting every span of every repeat) sounds at ``beat``; -1 outside the progression."""
        return self.progression.locate(beat)[0]

    def onset(self, beat: float, first: bool) -> np.ndarray | None:
        """(128,) bool: the pitches a note begun at ``beat`` may have; None where the rule leaves it free.
        ``first``: no note has begun yet under this chord (the bass rule's note)."""
        _, span = self.progression.locate(beat)
        if span is None or span.chord is None:
            return None
        symbol = span.chord.symbol
        if self.bass and first:
            return self._bass[symbol]
        if not self.hard or (self.passing and not self.progression.is_strong(beat)):
            return None
        return self._tones[symbol]

    def bias(self, beat: float) -> np.ndarray | None:
        """(128,) float: what the soft rule adds to the logit of a note begun at ``beat`` (minus the strength
        off the chord, 0 on it); None in hard mode and where there is no chord."""
        if self.hard:
            return None
        _, span = self.progression.locate(beat)
        if span is None or span.chord is None:
            return None
        return np.where(self._tones[span.chord.symbol], 0.0, -self.penalty)

    def logit_bias(self, beats: list[float], width: int, ids: np.ndarray, pitches: np.ndarray) -> np.ndarray | None:
        """(len(beats), width): the soft rule added to the logits of rows whose next note begins at ``beats``, at
        the elements ``ids`` that begin a note of MIDI pitch ``pitches``; None in hard mode."""
        if self.hard:
            return None
        out = np.zeros((len(beats), width))
        for r, beat in enumerate(beats):
            if (penalty := self.bias(beat)) is not None:
                out[r, ids] = penalty[pitches]
        return out

    def keep_chance(self) -> float:
        """The soft rule as a chance: a non-chord note stays possible with probability ``e**-strength``
        (piano-roll frames, whose keys are drawn one by one, take it this way)."""
        return float(np.exp(-self.penalty))
