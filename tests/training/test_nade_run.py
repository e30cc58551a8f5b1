"""A piano-roll run with the NADE head, end to end: trained by the real loop on real chorales, scored in
metrics.json (with its head named), reloaded from its folder and played by the Composer in chords."""

from __future__ import annotations

import math

import keras  # noqa: F401  (a hard dependency: a broken install fails, never skips)
import numpy as np
import pytest

from musegen import runs
from musegen.config import DataConfig, ModelConfig, RunConfig, SamplingConfig, TrainConfig
from musegen.datasets.dataset import build_dataset
from musegen.evaluation.report import format_metrics
from musegen.generation.compose import Composer
from musegen.scoring.floors import frame_nll
from musegen.training.loop import train

pytestmark = pytest.mark.slow  # trains a real model


def test_a_nade_run_trains_scores_and_composes_chords(chorales, tmp_path):
    data_cfg = DataConfig(representation="pianoroll", window=48, stride=24, transpose=(-1, 1), val_fraction=0.25)
    dataset = build_dataset(chorales[:8], data_cfg)
    model_cfg = ModelConfig(arch="lstm", embed_dim=16, units=24, layers=1, head="nade", nade_hidden=24)
    config = RunConfig(data=data_cfg, model=model_cfg, train=TrainConfig(epochs=2, batch_size=8, learning_rate=5e-3))
    run_dir = runs.create_run(tmp_path, config, dataset.vocab, name="nade")
    result = train(config, dataset, run_dir)
    assert result.status == "finished"
    losses = [e.loss for e in result.history.epochs]
    assert losses[1] < losses[0]
    metrics = result.metrics
    assert metrics is not None and metrics.head == "nade" and metrics.unit == "frame"
    assert "lstm + NADE head" in format_metrics(metrics)
    assert math.isfinite(metrics.model.nll) and metrics.model.nll < metrics.uniform_nll  # two tiny epochs
    # metrics.json is the exact frame NLL of the best model on the validation pieces
    model = runs.load_run_model(run_dir, "best")
    assert frame_nll(model, dataset.val)["nll"] == pytest.approx(metrics.model.nll, rel=1e-5)
    assert runs.load_run(run_dir).config.model.head == "nade"

    composer = Composer(run_dir)
    seed = composer.seed_from_piece(0, 0, 8)
    composition = composer.compose(seed, SamplingConfig(length=16, variations=2, temperature=1.0, seed=1))
    assert len(composition.continuations) == 2
    notes = np.concatenate([c.notes for c in composition.continuations])
    assert len(notes) > 0  # the chorale-trained model plays
    again = composer.compose(seed, SamplingConfig(length=16, variations=2, temperature=1.0, seed=1))
    np.testing.assert_array_equal(again.continuations[0].notes, composition.continuations[0].notes)
