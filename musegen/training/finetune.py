"""Fine-tuning: a new run that starts from a trained run's weights (a base model) and learns a user's pieces.

A base is any run folder with a trained model, or a bundled one by name: a folder beside the demo
models (``assets/models/``, ``MUSEGEN_DEMO_DIR``) whose name contains ``base``
(:func:`bundled_bases`). The new run copies the base's data settings, vocabulary and model shape, so
the user's pieces are encoded onto the base's token ids (:func:`finetune_dataset`: a token the base
never had becomes ``<unk>`` and is counted, never dropped in silence). The model is built exactly as
the base was and its weights are copied in before the first step (:func:`start_from_base`, called by
the training loop when ``RunConfig.base`` is set). Only the training settings differ
(:data:`FINETUNE_TRAIN`): a smaller learning rate, so the first steps on a few pieces refine what
the base knows instead of overwriting it, and early stopping that acts quickly, since a small
dataset is over-fitted in few epochs. ``RunConfig.base`` names the base in the run's
``config.json``; the run is otherwise an ordinary run (resume, generate, evaluate).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from musegen import runs
from musegen.config import RunConfig
from musegen.datasets.dataset import SequenceDataset, build_dataset
from musegen.errors import ConfigError, RunNotFoundError
from musegen.notes import Piece
from musegen.training.places import demo_dir
from musegen.vocabulary import UNK_ID

# the training settings of a fine-tuning run (what the user sets wins): a third of the usual
# Adam rate, the rate halved after 2 epochs without progress, a stop after 4
FINETUNE_TRAIN: dict[str, Any] = {
    "learning_rate": 3e-4,
    "epochs": 40,
    "patience": 4,
    "lr_patience": 2,
    "eval_every": 0,
    "lr_schedule": "constant",
}


@dataclass(frozen=True)
class Coverage:
    """How much of the user's pieces the base's vocabulary holds: tokens in all, and those it lacks."""

    tokens: int
    unknown: int

    @property
    def share_unknown(self) -> float:
        return self.unknown / self.tokens if self.tokens else 0.0

    def message(self) -> str:
        if not self.unknown:
            return f"every one of the {self.tokens:,} tokens of your pieces is in the base model's vocabulary"
        return (
            f"{self.unknown:,} of the {self.tokens:,} tokens of your pieces ({self.share_unknown:.1%}) are outside "
            "the base model's vocabulary and are read as <unk>"
        )


def bundled_bases() -> list[Path]:
    """The bundled base models: run folders beside the demo models (assets/models/) whose name holds "base"."""
    folder = demo_dir()
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if "base" in p.name and (p / runs.CONFIG).is_file())


def resolve_base(spec: str | Path) -> runs.RunInfo:
    """The base run of ``spec``: a run folder, or a bundled base's name; refused without a trained model."""
    path = Path(spec)
    if not path.is_dir() and (demo_dir() / str(spec)).is_dir():
        path = demo_dir() / str(spec)
    if not path.is_dir():
        names = ", ".join(p.name for p in bundled_bases()) or "none yet"
        raise RunNotFoundError(
            f"no base model {spec!r}: give a run folder with a trained model or a bundled base ({names})."
        )
    info = runs.load_run(path)
    if not info.has_model:
        raise ConfigError(f"{path} has no trained model (model.keras) to fine-tune; train it first.")
    return info


def base_summary(base: runs.RunInfo) -> str:
    """One sentence on a base: its model, what it was trained on, its held-out NLL (what the Train page shows)."""
    assert base.config is not None
    model = base.config.model
    size = (
        f"{model.arch}, {model.transformer_layers} blocks of width {model.d_model}"
        if model.arch == "transformer"
        else model.arch
    )
    scored = f"; held-out NLL {base.metrics.model.nll:.3f} nats per token" if base.metrics is not None else ""
    return (
        f"{base.run_id}: {size}, trained on {base.config.dataset_name or 'its corpus'}{scored}. "
        "Your files are read with its tokens, and the run learns them from its weights."
    )


def finetune_config(base: runs.RunInfo, **train: Any) -> RunConfig:
    """A copy of the base's configuration, its training settings those of fine-tuning (``train`` overrides)."""
    assert base.config is not None
    config = copy.deepcopy(base.config)
    unknown = set(train) - set(vars(config.train))
    if unknown:
        raise ConfigError(f"unknown training settings: {', '.join(sorted(unknown))}.")
    # one machine: a base trained with tf.distribute is fine-tuned on this one unless told otherwise
    config.train = replace(config.train, distribute="", **{**FINETUNE_TRAIN, **train})
    config.base = str(base.path.resolve())
    config.validate()
    return config


def finetune_dataset(pieces: list[Piece], config: RunConfig, base: runs.RunInfo) -> tuple[SequenceDataset, Coverage]:
    """The user's pieces on the base's token ids (split and augmented as ``config.data`` says), and the coverage."""
    dataset = build_dataset(pieces, config.data, vocab=base.vocab())
    sequences = (*dataset.train, *dataset.val)
    if sequences and np.ndim(sequences[0]) == 2:  # piano-roll frames: 88 keys, nothing can be unknown
        return dataset, Coverage(tokens=sum(len(s) for s in sequences), unknown=0)
    tokens = sum(max(len(s) - 1, 0) for s in sequences)
    unknown = sum(int(np.count_nonzero(np.asarray(s) == UNK_ID)) for s in sequences)
    return dataset, Coverage(tokens=tokens, unknown=unknown)


def start_from_base(model: Any, base: str | Path) -> None:
    """Copy the weights of the base run's best model into ``model`` (built from the same model settings)."""
    source = runs.load_run_model(base, "best")
    theirs, ours = source.get_weights(), model.get_weights()
    if [w.shape for w in theirs] != [w.shape for w in ours]:
        raise ConfigError(
            f"the base model at {base} does not have this run's shape; fine-tune with the base's own settings."
        )
    model.set_weights(theirs)
