"""history.json and metrics.json as typed records: old run folders read, and write back the same JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from musegen import runs
from musegen.errors import RunNotFoundError
from musegen.records import EpochRecord, History, Metrics

ROOT = Path(__file__).resolve().parents[1]
DEMOS = sorted((ROOT / "assets" / "models").glob("demo-*"))


def test_the_bundled_demo_runs_are_there():
    assert [d.name for d in DEMOS] == ["demo-lstm", "demo-transformer", "demo-wavenet"]


@pytest.mark.parametrize("run_dir", DEMOS, ids=lambda p: p.name)
def test_a_demo_runs_history_and_metrics_round_trip_to_the_same_json(run_dir):
    raw_history = json.loads((run_dir / runs.HISTORY).read_text())
    history = runs.read_history(run_dir)
    assert isinstance(history.epochs[0], EpochRecord) and history.epochs_done == raw_history["epochs"][-1]["epoch"]
    assert history.to_dict() == raw_history
    raw_metrics = json.loads((run_dir / runs.METRICS).read_text())
    metrics = runs.read_metrics(run_dir)
    assert metrics is not None and metrics.model.nll == raw_metrics["model"]["nll"]
    # files written before the scoring unit and the head were recorded are token runs with the plain
    # head; those fields are the only additions
    assert metrics.to_dict() == {"unit": "token", "head": "independent", **raw_metrics}
    info = runs.load_run(run_dir)
    assert info.epochs_done == history.epochs_done and info.best_val_loss == raw_history["best_value"]


def test_a_new_runs_history_is_empty_and_monitors_the_validation_loss(tmp_path):
    history = runs.read_history(tmp_path)  # no history.json yet
    assert history == History() and history.epochs_done == 0 and history.monitor == "val_loss"
    assert runs.read_metrics(tmp_path) is None


@pytest.mark.parametrize("content", ["[]", '{"epochs": 3}', '{"epochs": [{"loss": 1.0}]}'])
def test_a_damaged_history_says_the_run_folder_is_damaged(tmp_path, content):
    (tmp_path / runs.HISTORY).write_text(content)
    with pytest.raises(RunNotFoundError, match="damaged"):
        runs.read_history(tmp_path)


@pytest.mark.parametrize("content", ["[]", '{"model": {}}', '{"model": 1, "baseline": 2}'])
def test_damaged_metrics_say_the_run_folder_is_damaged(tmp_path, content):
    (tmp_path / runs.METRICS).write_text(content)
    with pytest.raises(RunNotFoundError, match="damaged"):
        runs.read_metrics(tmp_path)


def test_unknown_fields_are_ignored_and_missing_optional_ones_stay_out_of_the_json():
    history = History.from_dict({"epochs": [{"epoch": 1, "loss": 2.0, "future_field": 1}], "something": "new"})
    assert history.epochs[0].loss == 2.0
    assert "global_batch" not in history.to_dict()
    metrics = Metrics.from_dict(
        {
            "model": {"nll": 1.0, "perplexity": 2.7, "accuracy": 0.5, "tokens": 10},
            "baseline": {"nll": 1.5, "perplexity": 4.5, "accuracy": 0.4, "tokens": 10, "order": 3},
            "uniform_nll": 5.0,
            "vocab_size": 163,
            "val_pieces": 2,
            "val_tokens": 10,
            "arch": "lstm",
            "representation": "timed",
        }
    )
    assert metrics.baseline.order == 3 and "order" not in metrics.to_dict()["model"]
