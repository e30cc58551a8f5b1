"""The settings of a new training: where they start, which numbers a person may change, and the rules between them.

A training starts from a named starting point (:data:`STARTS`: the small ``demo`` preset or the
library defaults) for one architecture, on the data settings of the chosen dataset. Then:

- the representation is the one the architecture reads (:func:`~musegen.representations.registry.for_arch`:
  the tutorial's classic models read only the classic tokens);
- the WaveNet's dilation cycle grows until it sees the whole window (:func:`fit_window`);
- the numbers of :data:`TRAIN_SETTINGS` and :data:`ADVANCED_SETTINGS` are what a person may change,
  with their bounds and meaning (the Train page draws one input per setting); :func:`with_settings`
  applies them, resizing the skip path with the channels.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

from musegen.config import ARCHITECTURES, CLASSIC_ARCHS, DataConfig, ModelConfig, RunConfig
from musegen.representations.registry import for_arch, for_config
from musegen.training.presets import preset_config

STARTS = {"demo": "Small (trains in minutes on a laptop)", "full": "Full size (library defaults; slow on a CPU)"}
ARCH_LABELS = {
    "wavenet": "WaveNet — gated dilated causal convolutions (fast, parallel)",
    "lstm": "LSTM — two recurrent layers",
    "transformer": "Transformer — causal self-attention with rotary positions",
    "classic-wavenet": "classic WaveNet — the tutorial's model (one target per window)",
    "classic-lstm": "classic LSTM — the tutorial's model (one target per window)",
}
HEAD_LABELS = {  # the output heads of piano-roll models (ModelConfig.head)
    "independent": "Independent keys — one sigmoid per key",
    "nade": "NADE chords — each key given the keys below it",
}
HEAD_HELP = (
    "How a frame's 88 keys are drawn. Independent: every key on its own, so chords are drawn key by key. "
    "NADE: low to high, each key knowing the ones already drawn, so the model learns which notes sound "
    "together (much better held-out scores; generation a little slower)."
)
MAX_DILATION_CYCLE = 16  # ModelConfig.validate's bound


FIM_RATE = 0.5  # share of training windows that teach infilling (Bavarian et al. 2022's 50%)
FIM_HELP = (
    "Half the training windows are shown as suffix, prefix, then middle, so the model learns to fill in a "
    "passage from what comes before and after, as well as to continue (Bavarian et al. 2022). Costs a little "
    "continuation NLL on a short training (the demo Transformer: 1.07 against 1.03 nats)."
)


SELECTION_LABEL = "Validate within epochs, rate decayed to the time limit"
SELECTION_HELP = (
    "Checks the validation loss about 20 times within the time limit, not once per epoch, keeping the best "
    "model of them, and lowers the learning rate over the last fifth of the time limit: an epoch of a large "
    "piano-roll corpus can take most of the time limit, leaving per-epoch checks nothing to choose from."
)


def with_selection(config: RunConfig, within: bool) -> RunConfig:
    """``config`` validating within epochs (auto) with the rate decayed to its time limit, when ``within``
    and it has a time limit; else validated at epoch ends at a constant rate."""
    timed = within and config.train.max_minutes > 0
    train = dataclasses.replace(
        config.train, eval_every=-1 if timed else 0, lr_schedule="budget" if timed else "constant"
    )
    return dataclasses.replace(config, train=train)


def can_learn_infilling(config: RunConfig) -> bool:
    """Whether a training of ``config`` can learn to fill in the middle (token data, a model reading ids)."""
    rep = for_config(dataclasses.replace(config.data, fim_rate=FIM_RATE))
    return rep.can_infill(config.model)


def default_head(heads: tuple[str, ...]) -> int:
    """Which of ``heads`` a new training starts with: the NADE head where it applies (on JSB Chorales it
    scores about 5.5 nats per frame against 8.0 for independent keys; BENCHMARKS.md)."""
    return heads.index("nade") if "nade" in heads else 0


@dataclass(frozen=True)
class Setting:
    """One number of a training a person may set: the config field it fills, its bounds, what it means."""

    section: str  # "train", "model" or "data" of a RunConfig; "" for max_pieces, which is not in it
    name: str  # the field, also the key of with_settings' values
    label: str
    low: int | float  # the bounds have the field's type (int or float)
    high: int | float
    step: float | None = None  # None: 1 for whole numbers, 0.01 otherwise
    format: str | None = None
    help: str | None = None
    archs: tuple[str, ...] = ARCHITECTURES  # the architectures that use it (the others ignore it)

    def initial(self, config: RunConfig) -> int | float:
        """The value ``config`` gives this setting (``low`` for a setting outside the config), of the bounds' type."""
        value = getattr(getattr(config, self.section), self.name) if self.section else self.low
        return type(self.low)(value)


_NEURAL = tuple(a for a in ARCHITECTURES if a not in CLASSIC_ARCHS)  # the classic models have no embedding

TRAIN_SETTINGS = (
    Setting("train", "epochs", "Epochs", 1, 1000, help="Passes over the training windows."),
    Setting("train", "batch_size", "Batch size", 1, 4096, help="Windows per update step."),
    Setting("train", "learning_rate", "Learning rate", 1e-5, 1.0, format="%.4f", help="Adam's step size."),
    Setting(
        "train",
        "patience",
        "Patience",
        0,
        100,
        help="Stop after this many epochs without a better validation loss; 0 = never stop early.",
    ),
    Setting(
        "train",
        "max_minutes",
        "Time limit (min)",
        0.0,
        24 * 60.0,
        step=1.0,
        help="Stop after this long, keeping the best model; 0 = no limit.",
    ),
)
ADVANCED_SETTINGS = (  # rows: sizes and data, then each architecture's own sizes
    (
        Setting("model", "embed_dim", "Embedding size", 4, 1024, archs=_NEURAL),
        Setting("model", "dropout", "Dropout", 0.0, 0.9, step=0.05),
        Setting(
            "model", "nade_hidden", "NADE hidden units", 4, 1024, help="Used by the NADE head only.", archs=_NEURAL
        ),
        Setting(
            "data",
            "val_fraction",
            "Validation share",
            0.0,
            0.5,
            step=0.05,
            help="Share of pieces held out to measure the model.",
        ),
        Setting(
            "",
            "max_pieces",
            "Use at most N pieces",
            0,
            100_000,
            help="0 = every piece. A few pieces make a quick trial.",
        ),
    ),
    (
        Setting("model", "channels", "WaveNet channels", 4, 1024, archs=("wavenet",)),
        Setting(
            "model",
            "dilation_cycle",
            "WaveNet dilation cycle",
            1,
            16,
            archs=("wavenet",),
            help="Dilations 1, 2, 4, … 2^(n-1).",
        ),
        Setting("model", "units", "LSTM units", 4, 2048, archs=("lstm",)),
        Setting("model", "layers", "LSTM layers", 1, 8, archs=("lstm",)),
    ),
    (
        Setting(
            "model",
            "d_model",
            "Transformer width",
            8,
            1024,
            archs=("transformer",),
            help="Channels of every block: a multiple of the heads, with an even number per head.",
        ),
        Setting("model", "heads", "Attention heads", 1, 16, archs=("transformer",)),
        Setting("model", "transformer_layers", "Transformer blocks", 1, 32, archs=("transformer",)),
        Setting(
            "model",
            "attention_span",
            "Attention span",
            0,
            8192,
            archs=("transformer",),
            help="Positions each one attends to (and the generation cache); 0 = the training window.",
        ),
    ),
)


def fit_window(model: ModelConfig, window: int) -> ModelConfig:
    """``model`` with a dilation cycle just long enough for the WaveNet to see ``window`` steps (at most 16)."""
    cycle = model.dilation_cycle
    while dataclasses.replace(model, dilation_cycle=cycle).receptive_field() < window and cycle < MAX_DILATION_CYCLE:
        cycle += 1
    return dataclasses.replace(model, dilation_cycle=cycle)


def starting_config(start: str, arch: str, data: DataConfig) -> RunConfig:
    """The settings a new training of ``arch`` starts from, on the data settings ``data``.

    ``start`` is a key of :data:`STARTS`: ``demo`` (the small preset) or ``full`` (the library
    defaults). The data keep ``data``'s settings in the representation ``arch`` reads; the
    WaveNet sees the whole window.
    """
    base = preset_config("demo", arch)[0] if start == "demo" else RunConfig(model=ModelConfig(arch=arch))
    data = dataclasses.replace(data, representation=for_arch(arch, data.representation))
    return RunConfig(data=data, model=fit_window(base.model, data.window), train=base.train)


def with_settings(base: RunConfig, values: Mapping[str, int | float]) -> RunConfig:
    """``base`` with the numbers a person set (by setting name; missing ones keep ``base``'s).

    Each value takes its field's type. A new channel count gives the skip path twice as many
    channels; an unchanged one keeps the skip path of ``base``.
    """
    sections = {"data": base.data, "model": base.model, "train": base.train}
    changes: dict[str, dict[str, int | float]] = {name: {} for name in sections}
    for setting in (*TRAIN_SETTINGS, *(s for row in ADVANCED_SETTINGS for s in row)):
        if setting.section and setting.name in values:
            kind = type(getattr(sections[setting.section], setting.name))
            changes[setting.section][setting.name] = kind(values[setting.name])
    model = changes["model"]
    if model.get("channels", base.model.channels) != base.model.channels:
        model["skip_channels"] = 2 * int(model["channels"])
    return dataclasses.replace(
        base,
        data=dataclasses.replace(base.data, **changes["data"]),
        model=dataclasses.replace(base.model, **model),
        train=dataclasses.replace(base.train, **changes["train"]),
    )


def max_pieces(values: Mapping[str, int | float]) -> int | None:
    """The piece limit of a training (None: every piece) from the values of :func:`with_settings`."""
    return int(values.get("max_pieces", 0)) or None


def window_note(config: RunConfig) -> str:
    """A warning when the WaveNet of ``config`` sees less than its window ("" when it sees it all)."""
    model, window = config.model, config.data.window
    if model.arch != "wavenet" or model.receptive_field() >= window:
        return ""
    units = for_config(config.data).units
    return (
        f"The WaveNet sees {model.receptive_field()} {units}, less than the window of {window}: "
        "raise the dilation cycle to use the whole window."
    )
