"""Tiny training configurations shared by the training, evaluation, runs and CLI tests."""

from __future__ import annotations

from musegen.config import DataConfig, ModelConfig, RunConfig, TrainConfig

TINY_MODELS = {
    "wavenet": ModelConfig(arch="wavenet", embed_dim=16, channels=16, skip_channels=16, dilation_cycle=5),
    "lstm": ModelConfig(arch="lstm", embed_dim=16, units=32, layers=1),
    "classic-wavenet": ModelConfig(arch="classic-wavenet"),
    "classic-lstm": ModelConfig(arch="classic-lstm"),
}


def tiny_config(arch: str = "wavenet", **train: object) -> RunConfig:
    """Window 32, a model of a few thousand weights, 2 epochs of batch 32 at a brisk learning rate."""
    classic = arch.startswith("classic-")
    data = DataConfig(representation="classic" if classic else "timed", window=32, stride=16, val_fraction=0.2)
    settings = {"epochs": 2, "batch_size": 32, "learning_rate": 3e-3, "patience": 0, "seed": 0, **train}
    return RunConfig(data=data, model=TINY_MODELS[arch], train=TrainConfig(**settings))  # type: ignore[arg-type]
