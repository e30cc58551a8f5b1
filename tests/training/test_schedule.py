"""Model selection within epochs and the time-budget learning rate (issue 32): the curve, the interval and
the subset, then a real tiny piano-roll run that validates every few batches and is resumed."""

from __future__ import annotations

import itertools
import json
import math

import pytest

from musegen import runs
from musegen.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from musegen.errors import ConfigError
from musegen.records import History
from musegen.training import schedule
from musegen.training.schedule import auto_interval_s, budget_rate, eval_seconds_guess, selection_stride


def test_the_budget_rate_holds_then_decays_to_its_floor():
    assert budget_rate(0, 600) == budget_rate(480, 600) == 1.0  # held over the first 80%
    assert budget_rate(540, 600) == pytest.approx(0.05 + 0.95 * 0.5)  # half way down the cosine
    assert budget_rate(600, 600) == pytest.approx(0.05) == budget_rate(900, 600)  # the floor, and after
    values = [budget_rate(t, 600) for t in range(480, 601, 10)]
    assert all(a >= b for a, b in itertools.pairwise(values))
    assert budget_rate(1e6, 0) == 1.0  # no budget: no schedule


def test_the_auto_interval_aims_at_twenty_validations_at_a_small_cost():
    assert auto_interval_s(10, 0.1) == pytest.approx(30.0)  # 600 s / 20
    assert auto_interval_s(10, 3.0) == pytest.approx(60.0)  # 3 s each at most 5% of the time
    assert auto_interval_s(0.1, 0.01) == schedule.MIN_INTERVAL_S
    assert auto_interval_s(0, 0.1) == schedule.NO_BUDGET_INTERVAL_S
    assert eval_seconds_guess(40_000) == pytest.approx(2.0)


def test_large_validation_sets_are_subsampled_by_a_fixed_stride():
    assert selection_stride(16_384) == 1
    assert selection_stride(16_385) == 2
    assert selection_stride(100_000) == 7
    assert schedule.due(4, 4, 0.0, 1e9) and not schedule.due(4, 3, 1e9, 0.0)
    assert schedule.due(-1, 1, 31.0, 30.0) and not schedule.due(-1, 99, 29.0, 30.0)
    assert not schedule.due(0, 1000, 1e9, 0.0)


def test_the_settings_are_checked_and_saved():
    with pytest.raises(ConfigError, match="eval_every"):
        TrainConfig(eval_every=-2).validate()
    with pytest.raises(ConfigError, match="lr_schedule"):
        TrainConfig(lr_schedule="cosine").validate()
    with pytest.raises(ConfigError, match="max_minutes"):
        TrainConfig(lr_schedule="budget").validate()
    config = RunConfig(train=TrainConfig(eval_every=-1, lr_schedule="budget", max_minutes=3))
    config.validate()
    again = RunConfig.from_json(config.to_json())
    assert (again.train.eval_every, again.train.lr_schedule) == (-1, "budget")
    old = json.loads(config.to_json())
    del old["train"]["eval_every"], old["train"]["lr_schedule"]  # a run folder from before
    assert (RunConfig.from_dict(old).train.eval_every, RunConfig.from_dict(old).train.lr_schedule) == (0, "constant")
    assert History.from_dict({}).evals is None  # and its history.json


@pytest.mark.slow  # trains a real model
def test_a_piano_roll_run_validates_within_epochs_and_resumes(chorales, tmp_path):
    from musegen.datasets.dataset import build_dataset
    from musegen.scoring.floors import frame_nll
    from musegen.training.loop import train

    data_cfg = DataConfig(representation="pianoroll", window=32, stride=32, val_fraction=0.25)
    dataset = build_dataset(chorales[:8], data_cfg)
    model_cfg = ModelConfig(arch="lstm", embed_dim=16, units=16, layers=1)
    train_cfg = TrainConfig(epochs=2, batch_size=4, learning_rate=1e-2, eval_every=3, seed=0)
    config = RunConfig(data=data_cfg, model=model_cfg, train=train_cfg)
    run_dir = runs.create_run(tmp_path, config, dataset.vocab, name="sub")
    result = train(config, dataset, run_dir, evaluate=False)
    history = runs.read_history(run_dir)
    per_epoch = history.batches_per_epoch
    assert result.status == "finished" and per_epoch and per_epoch > 3
    evals = history.evals or []
    assert len(evals) >= 2 * (per_epoch // 3)  # every 3 batches, the run's end included
    assert [e.batches for e in evals[:2]] == [3, 6] and evals[0].epoch_fraction == pytest.approx(3 / per_epoch)
    fractions = [e.epoch_fraction for e in evals]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(2.0)
    best = min(evals, key=lambda e: e.val_loss)
    assert history.best_value == pytest.approx(best.val_loss) and history.best_at == best.epoch_fraction
    # the best model kept is the one of that validation
    assert frame_nll(runs.load_run_model(run_dir, "best"), dataset.val)["nll"] == pytest.approx(best.val_loss, rel=1e-3)
    # the training loss curve is the running mean of the epoch, undisturbed by the validations
    first = [b.loss for b in history.batches if b.epoch == 1]
    assert all(math.isfinite(v) for v in first) and history.epochs[0].loss == pytest.approx(first[-1], rel=1e-5)
    assert history.epochs[-1].val_loss == pytest.approx(evals[-1].val_loss)

    config.train.epochs = 3  # resumed: the schedule is the saved one, the validations go on
    result = train(config, dataset, run_dir, resume=True, evaluate=False)
    resumed = runs.read_history(run_dir)
    assert result.status == "finished" and runs.load_run(run_dir).config.train.eval_every == 3
    assert len(resumed.evals or []) > len(evals) and resumed.evals[-1].epoch_fraction == pytest.approx(3.0)
    assert resumed.best_value <= history.best_value


@pytest.mark.slow
def test_the_budget_schedule_lowers_the_rate_by_the_time_limit(chorales, tmp_path):
    from musegen.datasets.dataset import build_dataset
    from musegen.training.loop import train

    data_cfg = DataConfig(representation="pianoroll", window=32, stride=32, val_fraction=0.25)
    dataset = build_dataset(chorales[:6], data_cfg)
    model_cfg = ModelConfig(arch="lstm", embed_dim=8, units=8, layers=1)
    train_cfg = TrainConfig(epochs=1000, batch_size=4, learning_rate=1e-2, max_minutes=0.1, lr_schedule="budget")
    config = RunConfig(data=data_cfg, model=model_cfg, train=train_cfg)
    result = train(config, dataset, runs.create_run(tmp_path, config, dataset.vocab, name="b"), evaluate=False)
    assert result.status == "finished" and "time budget" in result.message
    from musegen.models import load_model

    model = load_model(result.run_dir / runs.LAST, compile=True)
    assert float(model.optimizer.learning_rate) < 1e-2 * 0.2  # near the floor at the budget's end


def test_the_train_command_takes_the_flags_and_leaves_them_off_by_default():
    from musegen.cli import build_parser
    from musegen.cli.train_cmd import _config_from_args

    def config(*argv: str) -> TrainConfig:
        return _config_from_args(build_parser().parse_args(["train", *argv]))[0].train

    roll = ("--repr", "pianoroll", "--arch", "lstm")
    # off unless asked for: on 2 shared cores both measured worse than epoch ends at a constant rate
    assert (config(*roll, "--max-minutes", "3").eval_every, config(*roll, "--max-minutes", "3").lr_schedule) == (
        0,
        "constant",
    )
    timed = config(*roll, "--max-minutes", "3", "--eval-every", "auto", "--lr-schedule", "budget")
    assert (timed.eval_every, timed.lr_schedule) == (-1, "budget")
    assert (config("--max-minutes", "3").eval_every, config("--max-minutes", "3").lr_schedule) == (0, "constant")
    given = config(*roll, "--max-minutes", "3", "--eval-every", "50", "--lr-schedule", "constant")
    assert (given.eval_every, given.lr_schedule) == (50, "constant")
    assert config(*roll, "--eval-every", "auto").eval_every == -1
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--eval-every", "often"])
    with pytest.raises(ConfigError, match="max_minutes"):
        config(*roll, "--lr-schedule", "budget")


@pytest.mark.slow
def test_the_best_model_is_kept_at_a_validation_within_an_epoch(chorales, tmp_path, monkeypatch):
    import numpy as np

    from musegen.datasets.dataset import build_dataset
    from musegen.training import subepoch
    from musegen.training.loop import train

    scripted = iter([5.0, 3.0, 4.0, 4.5, 4.2, 4.4, 4.1, 4.3, 4.6, 4.7])  # the second validation is the best
    original = subepoch.SubEpoch.validate
    monkeypatch.setattr(subepoch.SubEpoch, "validate", lambda self, model: (original(self, model), next(scripted))[1])
    data_cfg = DataConfig(representation="pianoroll", window=32, stride=32, val_fraction=0.25)
    dataset = build_dataset(chorales[:8], data_cfg)
    model_cfg = ModelConfig(arch="lstm", embed_dim=8, units=8, layers=1)
    config = RunConfig(data=data_cfg, model=model_cfg, train=TrainConfig(epochs=1, batch_size=4, eval_every=2))
    result = train(config, dataset, runs.create_run(tmp_path, config, dataset.vocab, name="mid"), evaluate=False)
    history = runs.read_history(result.run_dir)
    assert history.best_value == 3.0 and history.best_epoch == 1
    assert history.best_at == pytest.approx(4 / history.batches_per_epoch, abs=1e-4) and history.best_at < 1
    best, last = (runs.load_run_model(result.run_dir, w) for w in ("best", "last"))
    assert not all(np.array_equal(a, b) for a, b in zip(best.get_weights(), last.get_weights(), strict=True))
