"""The settings of a run: how MIDI becomes training windows (DataConfig), the model (ModelConfig), its
training (TrainConfig), all three as a run's config.json (RunConfig)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from musegen.config.checks import _choice, _positive, from_dict
from musegen.errors import ConfigError

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
LR_SCHEDULES = ("constant", "budget")


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
    # validation (and best-model selection, early stopping) within epochs: 0 at epoch ends only, N > 0
    # every N batches, -1 by time (about 20 per max_minutes; musegen/training/schedule.py)
    eval_every: int = 0
    # "constant" (halved on plateaus with lr_patience), or "budget": held, then decayed over the last fifth
    # of max_minutes to 5% of learning_rate
    lr_schedule: str = "constant"

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
        if not isinstance(self.eval_every, int) or isinstance(self.eval_every, bool) or self.eval_every < -1:
            raise ConfigError(
                f"eval_every must be 0 (validate at epoch ends), a number of batches N > 0, or -1 (auto, by "
                f"time); got {self.eval_every!r}."
            )
        _choice("lr_schedule", self.lr_schedule, LR_SCHEDULES)
        if self.lr_schedule == "budget" and self.max_minutes <= 0:
            raise ConfigError("lr_schedule 'budget' decays the rate to the time limit: set max_minutes above 0.")

    def keras_jit_compile(self) -> bool | str:
        """What ``model.compile(jit_compile=...)`` takes: "auto", True or False."""
        return {"auto": "auto", "on": True, "off": False}[self.jit_compile]


@dataclass
class RunConfig:
    """Everything needed to rebuild a model and its tokens; saved as a run's config.json."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    dataset_name: str = "bach-chorales"
    # the run folder whose weights this run started from (fine-tuning; musegen.training.finetune), "" = from scratch
    base: str = ""

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
            base=str(d.get("base", "") or ""),
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


def with_overrides(
    model: ModelConfig, train: TrainConfig, overrides: dict[str, Any], what: str, extra: tuple[str, ...] = ()
) -> tuple[ModelConfig, TrainConfig, dict[str, Any]]:
    """``model`` and ``train`` with the ``overrides`` that name their fields, and the ones named in ``extra``
    (for the caller's data settings); any other name is a ConfigError ("unknown {what} settings: ...")."""
    unknown = set(overrides) - set(vars(model)) - set(vars(train)) - set(extra)
    if unknown:
        raise ConfigError(f"unknown {what} settings: {', '.join(sorted(unknown))}.")
    model = replace(model, **{k: v for k, v in overrides.items() if k in vars(model)})
    train = replace(train, **{k: v for k, v in overrides.items() if k in vars(train)})
    return model, train, {k: v for k, v in overrides.items() if k in extra}


def model_label(arch: str, head: str = "independent") -> str:
    """``arch``, with the output head when it is not the plain one: "lstm + NADE head"."""
    return arch + (" + NADE head" if head == "nade" else "")
