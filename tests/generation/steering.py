"""Shared by the constraint and infilling tests: tiny real runs and checks of generated music."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from musegen import runs
from musegen.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from musegen.datasets.dataset import build_dataset
from musegen.notes import END, PITCH, START, Piece
from musegen.training.loop import train

TINY = {
    "timed": (
        DataConfig(window=64, stride=32, val_fraction=0.2, fim_rate=0.5),
        ModelConfig("lstm", embed_dim=16, units=48, layers=1),
    ),
    "classic": (
        DataConfig(representation="classic", window=32, stride=16, val_fraction=0.2, fim_rate=0.5),
        ModelConfig("lstm", embed_dim=16, units=32, layers=1),
    ),
    "pianoroll": (
        DataConfig(representation="pianoroll", window=32, stride=16, val_fraction=0.2),
        ModelConfig("wavenet", channels=16, skip_channels=16, dilation_cycle=5),
    ),
    "nade": (
        DataConfig(representation="pianoroll", window=32, stride=16, val_fraction=0.2),
        ModelConfig("lstm", units=24, layers=1, head="nade", nade_hidden=16),
    ),
}


def tiny_run(kind: str, pieces: list[Piece], folder: Path, epochs: int = 2) -> Path:
    """A real run of ``kind`` (a key of TINY) trained for ``epochs`` on ``pieces``."""
    data_cfg, model_cfg = TINY[kind]
    config = RunConfig(
        data=data_cfg, model=model_cfg, train=TrainConfig(epochs=epochs, batch_size=16, learning_rate=5e-3)
    )
    dataset = build_dataset(pieces, config.data)
    run_dir = runs.create_run(folder, config, dataset.vocab, name=kind)
    train(config, dataset, run_dir, evaluate=False)
    return run_dir


def most_at_once(piece: Piece) -> int:
    """The most notes sounding together at any onset."""
    notes = piece.notes
    if not len(notes):
        return 0
    return max(int(((notes[:, START] <= t) & (notes[:, END] > t)).sum()) for t in np.unique(notes[:, START]))


def pitch_classes(piece: Piece) -> set[int]:
    return {int(p) % 12 for p in piece.notes[:, PITCH]}


def tsd_malformed(tokens: list[str], max_steps: int) -> list[str]:
    """What breaks the TSD grammar in ``tokens`` (empty: well formed)."""
    problems, last, top, last_value = [], "start", -1, 0
    for i, token in enumerate(tokens):
        kind, _, value = token.partition("_")
        if kind not in ("TimeShift", "Pitch", "Duration"):
            problems.append(f"{i}: {token} is not a note token")
            continue
        n = int(value)
        if last == "Pitch" and kind != "Duration":
            problems.append(f"{i}: {token} after a pitch without its duration")
        if kind == "Duration" and last != "Pitch":
            problems.append(f"{i}: a duration without a pitch")
        if kind == "Pitch" and n <= top:
            problems.append(f"{i}: pitch {n} not above {top} at one onset")
        if last == "TimeShift" and kind == "TimeShift" and last_value < max_steps:
            problems.append(f"{i}: a short shift followed by another shift")
        if kind == "TimeShift":
            top = -1
        elif kind == "Pitch":
            top = n
        last, last_value = kind, n
    if last == "Pitch":
        problems.append("ends on a pitch without its duration")
    return problems
