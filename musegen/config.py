"""Settings as dataclasses with a JSON round trip. Defaults live here, not in widgets."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from musegen.errors import ConfigError
from musegen.notes import DEFAULT_TEMPO, TEMPO_RANGE, clamp_tempo  # noqa: F401 (the tempo range lives in notes)

log = logging.getLogger(__name__)

ARCHITECTURES = ("wavenet", "lstm", "transformer", "classic-wavenet", "classic-lstm")
CLASSIC_ARCHS = ("classic-wavenet", "classic-lstm")  # the tutorial's one-target-per-window models
# output heads of piano-roll models: one sigmoid per key, or a NADE over the keys (musegen/models/nade.py)
HEADS = ("independent", "nade")
INSTRUMENT_FILTERS = ("all", "piano", "programs")


@dataclass
class DataConfig:
    """How MIDI becomes training windows."""

    # a name of musegen.representations.registry: how music is written for the model
    representation: str = "timed"
    steps_per_beat: int = 4  # quantization grid (pianoroll: frames per beat): 4 = sixteenths, 12 = with triplets
    max_shift_beats: int = 4  # longest single time-shift / duration token; longer ones are chained/clipped
    instrument_filter: str = "all"  # "all" non-drum parts, "piano" programs 0-7 (tutorial), or "programs"
    programs: tuple[int, ...] = ()  # General MIDI programs kept when instrument_filter == "programs"
    min_token_count: int = 1  # classic only: tokens seen fewer times map to <unk>
    transpose: tuple[int, int] = (0, 0)  # augmentation range in semitones, e.g. (-3, 3); train split only
    window: int = 128  # tokens (pianoroll: frames) per training window (the tutorial's 128)
    stride: int = 64  # step between windows of one piece
    val_fraction: float = 0.1  # share of pieces held out for validation (split by piece)
    split_seed: int = 0  # which pieces are held out
    # token runs: share of training windows written as fill-in-the-middle examples (prefix, suffix, then the
    # middle, with sentinel tokens; Bavarian et al. 2022), so one model both continues and infills; 0 = off
    fim_rate: float = 0.0
    # timed tokens: a Velocity token after every Pitch (dynamics learned and generated), in ``velocity_bins``
    # levels (MidiTok's 32 by default; the performance representation always has velocity, in as many bins)
    velocity: bool = False
    velocity_bins: int = 32
    # on reading MIDI: notes sound on while the sustain pedal (controller 64) is down, as a listener hears them
    sustain_pedal: bool = True

    def validate(self) -> None:
        if not isinstance(self.representation, str) or not self.representation:
            raise ConfigError(f"representation must be a name, got {self.representation!r}.")
        _choice("instrument_filter", self.instrument_filter, INSTRUMENT_FILTERS)
        _positive("steps_per_beat", self.steps_per_beat, 48)
        _positive("max_shift_beats", self.max_shift_beats, 64)
        _positive("window", self.window, 8192, low=2)
        _positive("stride", self.stride, 8192)
        _positive("min_token_count", self.min_token_count, 10_000)
        _positive("velocity_bins", self.velocity_bins, 127, low=2)
        if not 0.0 <= self.val_fraction < 1.0:
            raise ConfigError(f"val_fraction must be in [0, 1), got {self.val_fraction}.")
        if not 0.0 <= self.fim_rate <= 1.0:
            raise ConfigError(f"fim_rate must be in [0, 1] (0 = no infilling), got {self.fim_rate}.")
        lo, hi = self.transpose
        if not -12 <= lo <= hi <= 12:
            raise ConfigError(f"transpose must be a range within -12..12 with low <= high, got {self.transpose}.")
        if self.instrument_filter == "programs":
            if not self.programs:
                raise ConfigError("instrument_filter 'programs' needs at least one General MIDI program (0-127).")
            bad = [p for p in self.programs if not 0 <= int(p) <= 127]
            if bad:
                raise ConfigError(f"General MIDI programs are 0-127; got {bad}.")


@dataclass
class ModelConfig:
    """Architecture and size of a model. Fields not used by an architecture are ignored."""

    arch: str = "wavenet"  # wavenet | lstm | transformer | classic-wavenet | classic-lstm
    embed_dim: int = 64  # learned token embedding size (not used by the classic models)
    dropout: float = 0.1
    # WaveNet
    channels: int = 64  # residual channels of the dilated stack
    skip_channels: int = 128  # channels of the skip path and the head
    kernel_size: int = 2  # of the dilated causal convolutions
    dilation_cycle: int = 7  # dilations 1, 2, ..., 2**(dilation_cycle-1), then repeat
    stacks: int = 1  # how many times the dilation cycle repeats
    # LSTM
    units: int = 256  # per LSTM layer
    layers: int = 2  # stacked LSTM layers
    # Transformer (decoder-only, rotary positions; musegen/models/transformer.py)
    d_model: int = 128  # width of every block (the embedding or frame adapter is projected to it)
    heads: int = 4  # attention heads; d_model / heads must be even (rotary embeddings turn channel pairs)
    transformer_layers: int = 4  # pre-LayerNorm blocks, each self-attention then a feed-forward
    ff_mult: int = 4  # the feed-forward's hidden width is ff_mult x d_model
    attention_span: int = 0  # positions each one attends to, and the generation cache; 0 = the training window
    # piano-roll output head: "independent" (88 sigmoids) or "nade" (the keys of a frame drawn low to high,
    # each given the ones below it; Boulanger-Lewandowski et al. 2012). Token models ignore it.
    head: str = "independent"
    nade_hidden: int = 128  # hidden units of the NADE head

    def validate(self) -> None:
        _choice("arch", self.arch, ARCHITECTURES)
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}.")
        for name in ("embed_dim", "channels", "skip_channels", "units"):
            _positive(name, getattr(self, name), 4096)
        _positive("kernel_size", self.kernel_size, 16, low=2)
        _positive("dilation_cycle", self.dilation_cycle, 16)
        _positive("stacks", self.stacks, 16)
        _positive("layers", self.layers, 8)
        _positive("d_model", self.d_model, 4096, low=8)
        _positive("heads", self.heads, 64)
        _positive("transformer_layers", self.transformer_layers, 32)
        _positive("ff_mult", self.ff_mult, 16)
        _positive("attention_span", self.attention_span, 8192, low=0)
        _choice("head", self.head, HEADS)
        _positive("nade_hidden", self.nade_hidden, 1024)
        if self.arch == "transformer" and (self.d_model % self.heads or (self.d_model // self.heads) % 2):
            raise ConfigError(
                f"d_model ({self.d_model}) must be a multiple of heads ({self.heads}) with an even quotient "
                "(the size of each head, whose channels rotary embeddings turn in pairs); e.g. 128 with 4 heads."
            )

    @property
    def label(self) -> str:
        """The model for people: the architecture, with the head when it is not the plain one."""
        return model_label(self.arch, self.head)

    @property
    def is_classic(self) -> bool:
        """The tutorial's one-target-per-window models (scalar input, softmax output)."""
        return self.arch in CLASSIC_ARCHS

    def receptive_field(self) -> int:
        """Tokens of context the WaveNet sees (input convolution included)."""
        per_stack = (self.kernel_size - 1) * (2**self.dilation_cycle - 1)
        return 1 + (self.kernel_size - 1) + self.stacks * per_stack


PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")


@dataclass
class TrainConfig:
    """How a model is trained."""

    epochs: int = 20
    batch_size: int = 32  # windows per batch per replica; with tf.distribute the global batch is this x replicas
    learning_rate: float = 1e-3
    patience: int = 5  # early stopping on validation loss; 0 disables it
    lr_patience: int = 0  # halve the learning rate after this many epochs without improvement; 0 = never
    seed: int = 0  # keras.utils.set_random_seed
    max_minutes: float = 0.0  # stop after this much wall time (0 = no limit), keeping the best model
    distribute: str = ""  # "", "mirrored" or "multiworker"
    # "float32", or "mixed_float16" (GPUs; Keras' dynamic loss scaling) / "mixed_bfloat16" (TPUs, recent CPUs):
    # layers compute in 16 bits, variables and the output logits stay float32
    precision: str = "float32"
    # XLA for the training step: "auto" (Keras' rule: on a GPU, off on CPU-only machines and under
    # tf.distribute), "on" or "off"
    jit_compile: str = "auto"

    def validate(self) -> None:
        _positive("epochs", self.epochs, 100_000, low=0)
        _positive("batch_size", self.batch_size, 65_536)
        if not 0 < self.learning_rate <= 1:
            raise ConfigError(f"learning_rate must be in (0, 1], got {self.learning_rate}.")
        _positive("patience", self.patience, 10_000, low=0)
        _positive("lr_patience", self.lr_patience, 10_000, low=0)
        if self.max_minutes < 0:
            raise ConfigError("max_minutes must be >= 0 (0 means no limit).")
        _choice("distribute", self.distribute, ("", "mirrored", "multiworker"))
        _choice("precision", self.precision, PRECISIONS)
        _choice("jit_compile", self.jit_compile, ("auto", "on", "off"))

    def keras_jit_compile(self) -> bool | str:
        """What ``model.compile(jit_compile=...)`` takes: "auto", True or False."""
        return {"auto": "auto", "on": True, "off": False}[self.jit_compile]


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


@dataclass
class Limits:
    """Limits that protect a machine (and a shared server) from huge or hostile input, all in one place (the app's
    ``.streamlit/config.toml`` upload limit matches ``max_upload_mb``); ``MUSEGEN_<FIELD>`` overrides each."""

    max_upload_mb: int = 200  # one uploaded file or zip
    max_file_mb: int = 10  # one MIDI file (after unzipping)
    max_files: int = 5000  # MIDI files in one dataset
    max_zip_members: int = 10_000  # entries in one zip archive
    max_unpacked_mb: int = 1000  # total unpacked size of one zip
    max_notes_per_file: int = 200_000  # more is not music a model can learn from
    max_events_per_file: int = 1_000_000  # every MIDI event counts: a file of controllers stops early too
    max_beats_per_file: int = 100_000  # about 14 hours at 120 BPM
    max_decode_mb: int = 1024  # memory a decoding worker may take for one file, on top of its own
    max_decode_seconds: int = 20  # CPU seconds a decoding worker may spend on one file
    max_folder_depth: int = 32  # folders inside folders searched for MIDI files
    max_generation_length: int = 10_000  # tokens per generated piece
    max_concurrent_trainings: int = 2  # more wait in a queue

    @classmethod
    def from_env(cls) -> Limits:
        """The defaults, each overridden by ``MUSEGEN_<FIELD>`` when set: any whole number from 1; one above what
        this system can use (:func:`limit_ceiling`) is capped there, and the cap logged once per process."""
        limits = cls()
        for f in dataclasses.fields(cls):
            name = f"MUSEGEN_{f.name.upper()}"
            raw = os.environ.get(name, "").strip()
            if raw:
                setattr(limits, f.name, _env_limit(name, raw, f.default))
        return limits


_MB = 1024 * 1024
# A limit is capped at the system's own maximum: sizes stay byte counts a read or an rlimit takes (signed 64-bit,
# room to add two), counts a signed 64-bit integer, CPU seconds a wait poll() can time (twice the limit in ms).
SIZE_CEILING_MB = sys.maxsize // (4 * _MB)
COUNT_CEILING = sys.maxsize
DECODE_SECONDS_CEILING = 1_000_000  # about 11.5 days
_SIZE_FIELDS = ("max_upload_mb", "max_file_mb", "max_unpacked_mb", "max_decode_mb")
_capped: set[str] = set()  # the limits whose cap has been logged in this process


def limit_ceiling(field_name: str) -> int:
    """The largest value of a :class:`Limits` field that this system can use."""
    if field_name in _SIZE_FIELDS:
        return SIZE_CEILING_MB
    if field_name == "max_decode_seconds":
        return DECODE_SECONDS_CEILING
    return COUNT_CEILING


def _env_limit(name: str, raw: str, default: int) -> int:
    """The value of the limit variable ``name``: a whole number, at least 1, capped at the system's maximum."""
    ceiling = limit_ceiling(name.removeprefix("MUSEGEN_").lower())
    try:  # thousands of digits are more than any ceiling (and more than int() parses)
        value = ceiling + 1 if raw.lstrip("+").isdigit() and len(raw) > 40 else int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a whole number, got {raw[:40]!r}.") from exc
    if value < 1:
        raise ConfigError(f"{name} must be at least 1, got {raw[:40]!r}; unset it to use the default ({default:,}).")
    if value > ceiling:
        if name not in _capped:
            _capped.add(name)
            log.warning("%s is more than this system can use; capped at %s.", name, f"{ceiling:,}")
        return ceiling
    return value


@dataclass
class RunConfig:
    """Everything needed to rebuild a model and its tokens; saved as a run's config.json."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    dataset_name: str = "bach-chorales"

    def validate(self) -> None:
        self.data.validate()
        self.model.validate()
        self.train.validate()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunConfig:
        return cls(
            data=from_dict(DataConfig, d.get("data", {})),
            model=from_dict(ModelConfig, d.get("model", {})),
            train=from_dict(TrainConfig, d.get("train", {})),
            dataset_name=str(d.get("dataset_name", "bach-chorales")),
        )

    @classmethod
    def from_json(cls, text: str) -> RunConfig:
        try:
            return cls.from_dict(json.loads(text))
        except (json.JSONDecodeError, TypeError, AttributeError) as exc:
            raise ConfigError(f"config.json is not a valid musegen configuration: {exc}") from exc

    @classmethod
    def load(cls, path: str | Path) -> RunConfig:
        return cls.from_json(Path(path).read_text(encoding="utf-8"))


T = TypeVar("T")


def from_dict(cls: type[T], d: dict[str, Any]) -> T:
    """Build dataclass ``cls`` from ``d``, ignoring unknown keys and restoring tuples."""
    if not isinstance(d, dict):
        raise ConfigError(f"expected an object for {cls.__name__}, got {type(d).__name__}.")
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name in d:
            value = d[f.name]
            if isinstance(value, list):
                value = tuple(value)
            kwargs[f.name] = value
    return cls(**kwargs)


def model_label(arch: str, head: str = "independent") -> str:
    """``arch``, with the output head when it is not the plain one: "lstm + NADE head"."""
    return arch + (" + NADE head" if head == "nade" else "")


def _choice(name: str, value: str, options: tuple[str, ...]) -> None:
    if value not in options:
        raise ConfigError(f"{name} must be one of {', '.join(repr(o) for o in options)}; got {value!r}.")


def _positive(name: str, value: int, high: int, low: int = 1) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ConfigError(f"{name} must be a whole number from {low} to {high}; got {value!r}.")
