"""The settings of generation: how new music is drawn (SamplingConfig) and the rules it keeps (ConstraintConfig)."""

from __future__ import annotations

from dataclasses import dataclass

from musegen.config.checks import _positive
from musegen.errors import ConfigError


@dataclass
class SamplingConfig:
    """How new music is drawn from a model."""

    length: int = 256  # tokens to generate
    # 0.8 with top-k 8 came closest to held-out Bach chorales (BENCHMARKS.md, musical quality)
    temperature: float = 0.8  # 0 means argmax (greedy)
    top_k: int = 8  # keep the k most likely tokens; 0 = off; 1 = greedy
    top_p: float = 1.0  # nucleus: smallest set with this much probability; 1 = off
    greedy: bool = False  # the tutorial's argmax
    # the temperature of each note's length (the Duration tokens of timed runs); None = ``temperature``.
    # 1 keeps the data's variety of lengths: colder, every note drifts to the commonest, the shortest in
    # piano music (the real piano pieces at 0.8 came out at half their note lengths; BENCHMARKS.md,
    # "Piano that breathes")
    duration_temperature: float | None = 1.0
    # motif memory: how strongly a piece continues the figures it has already played (a cache of its own
    # tokens mixed into the model's; musegen.steering.motif). 0 = off; token runs only. None = what suits
    # the run's music (Composer.motif_strength: 0.5 for the real piano pieces, which repeat a third of their
    # figures, 0 for Bach's chorales, which hardly do; BENCHMARKS.md, "Motif memory")
    motif_memory: float | None = None
    seed: int | None = None  # random seed; the same seed gives the same music
    variations: int = 1  # pieces generated together in one batch

    def validate(self, max_length: int = 20_000) -> None:
        _positive("length", self.length, max_length)
        if self.temperature < 0:
            raise ConfigError(f"temperature must be >= 0 (0 = greedy), got {self.temperature}.")
        if self.duration_temperature is not None and not 0 < self.duration_temperature <= 10:
            raise ConfigError(
                f"duration_temperature must be in (0, 10] (or None: the same as temperature), "
                f"got {self.duration_temperature}."
            )
        _positive("top_k", self.top_k, 1_000_000, low=0)
        if self.motif_memory is not None and not 0 <= self.motif_memory < 1:
            raise ConfigError(
                f"motif_memory must be in [0, 1) (0 = off; None = suited to the run), got {self.motif_memory}."
            )
        if not 0 < self.top_p <= 1:
            raise ConfigError(f"top_p must be in (0, 1] (1 = off), got {self.top_p}.")
        _positive("variations", self.variations, 64)


def default_top_k(unit: str) -> int:
    """Top-k unless a person sets one: off (0) for performance events, whose note-ons share their probability
    among 128 pitches, so a short-trained model's top 8 are all time shifts (6 notes in 400 events), else 8."""
    return 0 if unit == "event" else SamplingConfig.top_k


def sampling_choice(
    *,
    length: int = SamplingConfig.length,
    temperature: float = SamplingConfig.temperature,
    top_k: int | None = None,
    top_p: float = SamplingConfig.top_p,
    greedy: bool = False,
    seed: int | None = None,
    variations: int = 1,
    duration_temperature: float | None = SamplingConfig.duration_temperature,
    motif_memory: float | None = None,
    max_length: int = 20_000,
    unit: str = "token",
) -> SamplingConfig:
    """The one builder of a :class:`SamplingConfig` from a person's choices (the Generate page's widgets, the
    ``generate`` command's flags), checked. Greedy is the tutorial's argmax: its temperature is 0 whatever
    the temperature widget or flag says; ``top_k`` None is the run's (``unit``'s) default."""
    cfg = SamplingConfig(
        length=int(length),
        temperature=0.0 if greedy else float(temperature),
        top_k=default_top_k(unit) if top_k is None else int(top_k),
        top_p=float(top_p),
        greedy=bool(greedy),
        seed=None if seed is None else int(seed),
        variations=int(variations),
        duration_temperature=None if duration_temperature is None else float(duration_temperature),
        motif_memory=None if motif_memory is None else float(motif_memory),
    )
    cfg.validate(max_length)
    return cfg


CHORD_MODES = ("hard", "soft")
MAX_CHORDS_TEXT = 4000


@dataclass
class ConstraintConfig:
    """Rules every generated element must keep (:mod:`musegen.steering.constraints`); all off by default."""

    key: str = ""  # keep to a key or scale, e.g. "D minor", "F# major", "A dorian", "C pentatonic"; "" = off
    low: int = 0  # lowest MIDI pitch allowed
    high: int = 127  # highest MIDI pitch allowed
    max_polyphony: int = 0  # most notes sounding at once; 0 = no limit
    max_note_seconds: float = 8.0  # performance runs: a note sounding this long is released; 0 = no limit
    grammar: bool = False  # token runs: only well-formed sequences (a duration always follows its pitch, ...)
    # a chord progression under the generated music (musegen.steering.chords), e.g. "C | Am | F G7 | C"; "" = off
    chords: str = ""
    beats_per_bar: int = 4  # the progression's bars; its chords share a bar's beats
    chord_repeat: bool = True  # the progression starts again at its end; False: once, then the music is free
    chord_mode: str = "hard"  # "hard": notes begun under a chord are its tones; "soft": a bias towards them
    chord_strength: float = 2.0  # soft: a note that is not a chord tone is e**strength times less likely
    passing_tones: bool = False  # hard: notes begun on a weak beat may be any pitch the other rules allow
    chord_bass: bool = False  # the first note begun under each chord is on the chord's bass note (C/E: an E)

    def validate(self) -> None:
        if not (0 <= self.low <= self.high <= 127):
            raise ConfigError(f"the pitch range must be within 0..127 with low <= high, got {self.low}..{self.high}.")
        _positive("max_polyphony", self.max_polyphony, 128, low=0)
        if isinstance(self.max_note_seconds, bool) or not 0 <= self.max_note_seconds <= 60:
            raise ConfigError(f"the longest note must be 0 (no limit) to 60 seconds, got {self.max_note_seconds!r}.")
        if not isinstance(self.key, str) or len(self.key) > 40:
            raise ConfigError(f"key must be a key name such as 'D minor', got {self.key!r}.")
        if not isinstance(self.chords, str) or len(self.chords) > MAX_CHORDS_TEXT:
            raise ConfigError(f"the chord progression must be text of at most {MAX_CHORDS_TEXT:,} characters.")
        _positive("beats_per_bar", self.beats_per_bar, 16)
        if self.chord_mode not in CHORD_MODES:
            raise ConfigError(f"chord_mode must be one of {', '.join(CHORD_MODES)}, got {self.chord_mode!r}.")
        strength = self.chord_strength
        if isinstance(strength, bool) or not isinstance(strength, int | float) or not 0 <= strength <= 20:
            raise ConfigError(f"the chord strength must be a number from 0 to 20, got {strength!r}.")

    @property
    def active(self) -> bool:
        """Whether any rule is on."""
        ranged = self.low > 0 or self.high < 127
        return bool(self.key.strip()) or ranged or self.max_polyphony > 0 or self.grammar or bool(self.chords.strip())
