"""Pretraining the base model: a Transformer on the corpus store, in a run folder that can be resumed.

``python -m musegen pretrain --store DIR`` (and ``make base-model``) trains :func:`base_config` on a
token store built by ``python -m musegen corpus build`` into ``assets/models/<name>`` (the name holds
``base``, so :func:`musegen.training.finetune.bundled_bases` offers it). A second call on the same
folder resumes it from ``last.keras`` instead of starting again: the two hours of a 2-core CPU may
be spent in several sittings (``--minutes`` is each sitting's budget).

The model: the Transformer, which won every comparison of the backbones so far (BENCHMARKS.md), four
pre-LayerNorm blocks of width 192 (about 1.9 M parameters with the base vocabulary), reading windows
of 256 tokens (about 20 beats of a four-voice piece), half of them fill-in-the-middle examples so
that fine-tuned runs infill too. Beside the model it writes the corpus's training pieces as an
originality index (``originality.npz``, :mod:`musegen.evaluation.originality`), so that music made by a
fine-tuned run is checked against the base's corpus too, where the corpus itself is not at hand.
The model's size is set by what a 2-core CPU gets through in two hours (a few passes over the
corpus) and by the 30 MB a bundled model may take.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from musegen import runs
from musegen.config import DataConfig, ModelConfig, RunConfig, TrainConfig, with_overrides
from musegen.errors import ConfigError
from musegen.evaluation.originality import BASE_INDEX, write_base_index
from musegen.paths import ASSETS
from musegen.representations.registry import check
from musegen.streams.store import load_store_dataset, open_store
from musegen.training.loop import train
from musegen.training.sizing import FIM_RATE

BASE_NAME = "musegen-base"
BASE_RUNS = ASSETS / "models"
BASE_MINUTES = 120.0  # one sitting's budget by default: about two hours on 2 cores
MAX_BASE_BYTES = 30 * 1024 * 1024  # a bundled model's model.keras at most

BASE_MODEL = ModelConfig(
    arch="transformer", embed_dim=192, d_model=192, heads=6, transformer_layers=4, ff_mult=4, dropout=0.1
)
BASE_TRAIN = TrainConfig(epochs=1000, batch_size=32, learning_rate=1e-3, patience=4, lr_patience=2, seed=0)


def base_config(store_data: DataConfig, minutes: float = BASE_MINUTES, **overrides: Any) -> RunConfig:
    """The base model's run configuration on a store of ``store_data`` (its tokens and split); overrides by field."""
    model, train = copy.deepcopy(BASE_MODEL), replace(BASE_TRAIN, max_minutes=float(minutes))
    data = replace(store_data, window=256, stride=128, fim_rate=FIM_RATE)
    model, train, rest = with_overrides(model, train, overrides, "base model", ("window", "stride", "fim_rate"))
    data = replace(data, **rest)
    config = RunConfig(data=data, model=model, train=train, dataset_name="")
    check(config)
    return config


def pretrain(
    store_path: str | Path,
    runs_dir: str | Path = BASE_RUNS,
    name: str = BASE_NAME,
    minutes: float = BASE_MINUTES,
    *,
    on_progress: Callable[[Any], None] | None = None,
    fresh: bool = False,
    **overrides: Any,
) -> Any:
    """Train (or resume) the base model on the store at ``store_path`` into ``runs_dir/name``; the TrainResult.

    A run folder already there with a ``last.keras`` is resumed with ``minutes`` more (its settings
    kept; ``overrides`` then refused), unless ``fresh`` replaces it.
    """
    if "base" not in name:
        raise ConfigError(f"a base model's name holds 'base' (the app finds bundled bases so), got {name!r}.")
    store = open_store(store_path)
    run_dir = Path(runs_dir) / name
    resume = not fresh and run_dir.is_dir() and runs.load_run(run_dir).can_resume
    if resume:
        if overrides:
            raise ConfigError(f"{run_dir} is resumed with its own settings; leave out {', '.join(sorted(overrides))}.")
        config = runs.load_run(run_dir).config
        assert config is not None
        config.train.max_minutes = float(minutes)
    else:
        config = base_config(store.data_config, minutes, **overrides)
        config.dataset_name = f"the pretraining corpus ({store.manifest.get('pieces', 0):,} pieces, {store_path})"
    dataset = load_store_dataset(store, fim=config.data.fim_rate > 0)
    if not resume:
        run_dir = runs.create_run(runs_dir, config, dataset.vocab, name=name, overwrite=True)
    result = train(config, dataset, run_dir, on_progress=on_progress, resume=resume)
    if not (run_dir / BASE_INDEX).is_file():  # what the originality check of fine-tuned runs reads
        write_base_index(run_dir, store)
    return result


def model_bytes(run_dir: str | Path) -> int:
    """The size of the run's best model file: a bundled base keeps it within :data:`MAX_BASE_BYTES`."""
    file = Path(run_dir) / runs.MODEL
    return file.stat().st_size if file.is_file() else 0
