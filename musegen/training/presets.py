"""Named configurations. ``demo`` builds the small models bundled in ``assets/models/``.

The demo models are small (at most a few MB per run folder), reproducible (fixed seeds and
split) and train in a few minutes on a 2-core CPU on the built-in Bach chorales. Each gets a
fixed run name, ``demo-<arch>``, so ``make demo-models`` replaces them in place.
"""

from __future__ import annotations

from musegen.config import ARCHITECTURES, DataConfig, ModelConfig, RunConfig, TrainConfig
from musegen.errors import ConfigError
from musegen.representations.registry import DEFAULT, check, for_arch

PRESETS = ("demo",)


def preset_config(name: str, arch: str = "wavenet") -> tuple[RunConfig, str]:
    """The configuration of preset ``name`` for ``arch`` and the run name it trains into."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}.")
    if arch not in ARCHITECTURES:
        raise ConfigError(f"arch must be one of {', '.join(ARCHITECTURES)}; got {arch!r}.")
    classic = ModelConfig(arch=arch).is_classic
    data = DataConfig(
        representation=for_arch(arch, DEFAULT),
        # classic chorales are ~70 events long: a 32-event window keeps most. The others read 128 tokens (about
        # 14 beats of a chorale), room for a fill-in-the-middle prompt of a two-bar span with context around it
        window=32 if classic else 128,
        stride=32 if classic else 64,
        val_fraction=0.1,
        split_seed=0,
        fim_rate=0.0 if classic else 0.5,  # half the windows teach infilling (Bavarian et al. 2022's 50%)
    )
    model = ModelConfig(
        arch=arch,
        embed_dim=32,
        dropout=0.1,
        channels=48,
        skip_channels=96,
        kernel_size=2,
        dilation_cycle=7,  # receptive field 129 tokens >= window 128
        stacks=1,
        units=128,
        layers=1,  # one layer learns faster in a few minutes than two (measured: NLL 1.10 vs 1.34)
        # Transformer: two blocks of width 64 (about 110K parameters with the chorale vocabulary),
        # attending to the whole window
        d_model=64,
        heads=4,
        transformer_layers=2,
        ff_mult=4,
        attention_span=0,
    )
    if arch == "transformer":
        model.embed_dim = 64  # projected to d_model anyway: no bottleneck before the first block
    rate = {"lstm": 5e-3, "transformer": 4e-3}.get(arch, 2e-3)
    # the LSTM learns slowest with half its windows fill-in-the-middle examples: 20 epochs (12 left it at 1.24 nats)
    epochs = {"transformer": 8, "lstm": 20}.get(arch, 12)
    # max_minutes is only a safety net: on a 2-core CPU a demo takes 4 to 10 minutes
    train = TrainConfig(epochs=epochs, batch_size=32, learning_rate=rate, patience=3, seed=0, max_minutes=15.0)
    config = RunConfig(data=data, model=model, train=train)
    check(config)
    return config, f"demo-{arch}"
