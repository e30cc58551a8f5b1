"""Training on real chorales with tiny models: learning, checkpoints, resume, stop, budgets, bad input."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import keras
import numpy as np
import pytest

from musegen import runs
from musegen.datasets.dataset import build_dataset
from musegen.errors import ConfigError, TrainingError
from musegen.records import History
from musegen.training.loop import ProgressEvent, TrainResult, train
from musegen.vocabulary import Vocabulary
from tests.training_helpers import tiny_config

pytestmark = pytest.mark.slow  # trains real models or runs real processes: `pytest -m "not slow"` skips it


@pytest.fixture(scope="module")
def timed_data(chorales):
    return build_dataset(chorales[:10], tiny_config().data)


@pytest.fixture(scope="module")
def trained(timed_data, tmp_path_factory) -> tuple[TrainResult, list[ProgressEvent]]:
    """One wavenet run of 3 epochs, shared by the tests that only read it."""
    config = tiny_config(epochs=3)
    run_dir = runs.create_run(tmp_path_factory.mktemp("runs"), config, timed_data.vocab)
    events: list[ProgressEvent] = []
    return train(config, timed_data, run_dir, on_progress=events.append, evaluate=False), events


def test_loss_falls_and_run_folder_is_complete(trained):
    result, _ = trained
    epochs = result.history.epochs
    assert result.status == "finished"
    assert [e.epoch for e in epochs] == [1, 2, 3]
    assert epochs[-1].loss < epochs[0].loss
    assert epochs[-1].val_loss < epochs[0].val_loss
    assert 0.0 <= epochs[-1].val_accuracy <= 1.0
    info = runs.load_run(result.run_dir)
    assert info.status == "finished"
    assert info.best_val_loss == min(e.val_loss for e in epochs)
    assert info.epochs_done == 3
    names = {p.name for p in result.run_dir.iterdir()}
    assert {"config.json", "vocab.json", "data.npz", "history.json", "model.keras", "last.keras"} <= names
    assert "status.json" in names
    assert not [n for n in names if n.startswith(".") or n.endswith(".tmp") or n == "stop"]  # atomic writes


def test_progress_events_cover_batches_and_epochs(trained):
    result, events = trained
    batches = [e for e in events if e.kind == "batch"]
    epoch_events = [e for e in events if e.kind == "epoch"]
    assert len(epoch_events) == 3
    per_epoch = result.history.batches_per_epoch
    assert len(batches) == 3 * per_epoch
    assert batches[-1].batch == per_epoch == batches[-1].batches
    assert all(e.epochs == 3 for e in events)
    assert all(e.tokens_per_s and e.tokens_per_s > 0 for e in batches)
    assert batches[-1].elapsed_s >= batches[0].elapsed_s
    assert epoch_events[0].eta_s is not None and epoch_events[-1].eta_s == 0.0
    assert events[-1].kind == "status" and events[-1].status == "finished"
    history = json.loads((result.run_dir / "history.json").read_text())
    assert len(history["batches"]) == 3 * per_epoch


def test_best_and_last_checkpoints_predict_like_each_other(trained, timed_data):
    result, _ = trained
    # val_loss fell every epoch, so the best checkpoint is the last epoch's as well
    assert result.best_epoch == 3
    best = runs.load_run_model(result.run_dir, "best")
    last = runs.load_run_model(result.run_dir, "last")
    x = timed_data.val[0][None, :50]
    np.testing.assert_array_equal(np.asarray(best(x)), np.asarray(last(x)))


def test_resume_continues_epochs_and_optimizer(trained, tmp_path):
    first, _ = trained
    run_dir = tmp_path / "copy"
    shutil.copytree(first.run_dir, run_dir)
    config = runs.load_run(run_dir).config
    steps = first.history.batches_per_epoch
    with pytest.raises(TrainingError, match="already has 3 epochs"):
        train(config, runs.load_dataset(run_dir), run_dir, resume=True, evaluate=False)
    with pytest.raises(TrainingError, match="already trained"):
        train(config, runs.load_dataset(run_dir), run_dir, evaluate=False)
    config.train.epochs = 4
    events: list[ProgressEvent] = []
    resumed = train(config, runs.load_dataset(run_dir), run_dir, resume=True, on_progress=events.append, evaluate=False)
    assert [e.epoch for e in resumed.history.epochs] == [1, 2, 3, 4]
    assert {e.epoch for e in events if e.kind == "batch"} == {4}
    # the fourth epoch starts from the trained weights: its loss is far below the first epoch's
    assert resumed.history.epochs[3].loss < first.history.epochs[0].loss
    assert resumed.history.epochs[3].elapsed_s > first.history.epochs[2].elapsed_s
    last = keras.saving.load_model(run_dir / "last.keras", safe_mode=True)
    assert int(last.optimizer.iterations.numpy()) == 4 * steps


def test_resume_refuses_a_different_vocabulary(timed_data, tmp_path):
    config = tiny_config(epochs=2)
    run_dir = runs.create_run(tmp_path, config, timed_data.vocab)
    (run_dir / "last.keras").write_bytes(b"checked after the vocabulary")
    other = runs.StoredDataset(
        Vocabulary([*timed_data.vocab.tokens, "Pitch_200"], "timed"), timed_data.train, timed_data.val
    )
    with pytest.raises(TrainingError, match="different vocabulary"):
        train(config, other, run_dir, resume=True, evaluate=False)
    with pytest.raises(TrainingError, match=r"no last\.keras"):
        train(config, timed_data, runs.create_run(tmp_path, config, timed_data.vocab), resume=True)


@pytest.mark.parametrize("how", ["file", "event"])
def test_stop_request_is_honoured_within_one_batch(timed_data, tmp_path, how):
    config = tiny_config(epochs=5)
    run_dir = runs.create_run(tmp_path, config, timed_data.vocab)
    stop = threading.Event()
    seen: list[ProgressEvent] = []

    def on_progress(event: ProgressEvent) -> None:
        seen.append(event)
        if event.kind == "batch" and event.epoch == 2 and event.batch == 2:
            runs.request_stop(run_dir) if how == "file" else stop.set()

    result = train(config, timed_data, run_dir, on_progress=on_progress, stop_event=stop, evaluate=False)
    batches = [(e.epoch, e.batch) for e in seen if e.kind == "batch"]
    assert batches[-1] == (2, 2)  # no batch ran after the request
    assert result.status == "stopped"
    assert result.epochs_done == 2
    assert result.history.epochs[-1].partial is True
    assert runs.load_run(run_dir).status == "stopped"
    assert (run_dir / "model.keras").is_file()  # the best model is kept
    assert not runs.stop_requested(run_dir)  # the request is consumed


def test_time_budget_ends_the_run_as_finished(timed_data, tmp_path):
    config = tiny_config(epochs=50, max_minutes=1e-6)
    run_dir = runs.create_run(tmp_path, config, timed_data.vocab)
    result = train(config, timed_data, run_dir, evaluate=False)
    assert result.status == "finished"
    assert "time budget" in result.message
    assert len(result.history.batches) == 1
    assert result.history.epochs[0].partial is True


def test_early_stopping_keeps_the_best_epoch(tmp_path):
    from musegen.training.callbacks import RunCallback

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    history = History()
    callback = RunCallback(
        tmp_path,
        history,
        epochs=10,
        batches=1,
        samples=1,
        global_batch=1,
        tokens_per_sample=1,
        patience=2,
        max_minutes=0,
        chief=True,
        emit=lambda *a, **k: None,
        stop_event=None,
    )
    callback.set_model(model)
    model.stop_training = False  # what fit() sets before the first epoch
    for epoch, val_loss in enumerate([3.0, 2.5, 2.6, 2.7]):
        assert not model.stop_training
        callback.on_epoch_begin(epoch)
        callback.on_train_batch_end(0, {"loss": 1.0})
        callback.on_epoch_end(epoch, {"loss": 1.0, "val_loss": val_loss})
    assert model.stop_training and callback.reason == "early"
    assert (history.best_epoch, history.best_value) == (2, 2.5)
    assert (tmp_path / "model.keras").is_file() and (tmp_path / "last.keras").is_file()


def test_batch_larger_than_data_is_clipped_and_said(chorales, tmp_path):
    config = tiny_config("lstm", epochs=1, batch_size=4096)
    data = build_dataset(chorales[:3], config.data)
    run_dir = runs.create_run(tmp_path, config, data.vocab)
    events: list[ProgressEvent] = []
    result = train(config, data, run_dir, on_progress=events.append, evaluate=False)
    assert result.status == "finished"
    assert result.history.batches_per_epoch == 1
    assert any("clipped" in e.message for e in events if e.kind == "status")


def test_classic_model_trains_on_its_single_targets(chorales, tmp_path):
    config = tiny_config("classic-lstm", epochs=2)
    data = build_dataset(chorales[:10], config.data)
    run_dir = runs.create_run(tmp_path, config, data.vocab)
    result = train(config, data, run_dir, evaluate=False)
    losses = [e.loss for e in result.history.epochs]
    assert all(math.isfinite(v) for v in losses)
    assert losses[-1] < losses[0]


def test_bad_inputs_raise_and_mark_the_run_failed(chorales, tmp_path):
    config = tiny_config("classic-wavenet")
    config.data.window = 400  # longer than every classic chorale: no window at all
    data = build_dataset(chorales[:3], config.data)
    run_dir = runs.create_run(tmp_path, config, data.vocab)
    with pytest.raises(TrainingError, match="no training windows"):
        train(config, data, run_dir)
    info = runs.load_run(run_dir)
    assert info.status == "failed"
    assert "no training windows" in info.message
    busy = runs.create_run(tmp_path, config, data.vocab)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        runs.write_status(busy, "running", "epoch 1/2")
        status = json.loads((busy / "status.json").read_text())
        runs.atomic_write_json(busy / "status.json", {**status, "pid": other.pid})  # another live process trains it
        with pytest.raises(TrainingError, match="another process"):
            train(config, data, busy)
    finally:
        other.kill()
        other.wait()
    with pytest.raises(ConfigError, match="epochs must be at least 1"):
        train(tiny_config(epochs=0), data, tmp_path / "zero")


MIRRORED = textwrap.dedent(
    """
    import json, sys
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    sys.path.insert(0, sys.argv[2])
    from training_helpers import tiny_config
    from musegen import runs
    from musegen.sources.corpus import load_builtin_corpus
    from musegen.datasets.dataset import build_dataset
    from musegen.training.loop import train
    config = tiny_config(epochs=2, batch_size=8, distribute="mirrored")
    data = build_dataset(load_builtin_corpus(limit=8), config.data)
    run_dir = runs.create_run(sys.argv[1], config, data.vocab)
    result = train(config, data, run_dir)
    print(json.dumps({"status": result.status, "replicas": result.history.replicas,
                      "global_batch": result.history.global_batch,
                      "losses": [e.loss for e in result.history.epochs],
                      "nll": result.metrics.model.nll, "files": sorted(p.name for p in run_dir.iterdir())}))
    """
)


def test_mirrored_strategy_on_two_logical_cpus(tmp_path):
    tests_dir = str(Path(__file__).parents[1])
    proc = subprocess.run(
        [sys.executable, "-c", MIRRORED, str(tmp_path), tests_dir],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).parents[2],
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["status"] == "finished"
    assert out["replicas"] == 2
    assert out["global_batch"] == 16  # batch_size is per replica
    assert out["losses"][-1] < out["losses"][0]
    assert math.isfinite(out["nll"])
    assert {"model.keras", "last.keras", "metrics.json"} <= set(out["files"])


def test_a_model_too_big_to_load_again_is_refused_before_training(timed_data, tmp_path, monkeypatch):
    from musegen.training import loop

    monkeypatch.setattr(loop, "MAX_PARAMETERS", 1_000)  # what a model file may hold (musegen.modelfile)
    config = tiny_config()
    run_dir = runs.create_run(tmp_path, config, timed_data.vocab)
    with pytest.raises(ConfigError, match="parameters, more than the 1,000 a musegen model file may hold"):
        train(config, timed_data, run_dir)
    assert runs.load_run(run_dir).status == "failed" and not (run_dir / runs.MODEL).exists()
