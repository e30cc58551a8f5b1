"""The run folder: ids unique under concurrency, atomic writes, status, stop requests, listing, data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

from musegen import runs
from musegen.config import RunConfig
from musegen.errors import ConfigError, ModelLoadError, RunNotFoundError, TrainingError
from musegen.vocabulary import Vocabulary

VOCAB = Vocabulary(["<pad>", "<unk>", "<bos>", "Pitch_60", "Pitch_62"], "timed")


def _create(runs_dir: str) -> list[str]:
    return [runs.create_run(runs_dir, RunConfig(), VOCAB).name for _ in range(5)]


def test_concurrent_create_run_gives_distinct_ids(tmp_path):
    with ProcessPoolExecutor(max_workers=4) as pool:
        names = [n for batch in pool.map(_create, [str(tmp_path)] * 4) for n in batch]
    assert len(names) == 20
    assert len(set(names)) == 20
    assert all("-wavenet-" in n for n in names)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names)


def test_created_run_has_config_vocab_and_queued_status(tmp_path):
    config = RunConfig()
    config.model.arch = "lstm"
    path = runs.create_run(tmp_path, config, VOCAB)
    info = runs.load_run(path)
    assert info.status == "queued"
    assert info.config == config
    assert info.vocab().tokens == VOCAB.tokens
    assert not info.has_model
    assert info.epochs_done == 0
    assert info.metrics is None


def test_named_run_refuses_to_clobber_unless_overwrite(tmp_path):
    path = runs.create_run(tmp_path, RunConfig(), VOCAB, name="demo-wavenet")
    (path / "marker").write_text("old")
    with pytest.raises(ConfigError, match="already exists"):
        runs.create_run(tmp_path, RunConfig(), VOCAB, name="demo-wavenet")
    again = runs.create_run(tmp_path, RunConfig(), VOCAB, name="demo-wavenet", overwrite=True)
    assert again == path
    assert not (path / "marker").exists()
    with pytest.raises(ConfigError, match="not allowed"):
        runs.create_run(tmp_path, RunConfig(), VOCAB, name="../escape")


def test_atomic_writes_leave_no_temporary_files(tmp_path):
    runs.atomic_write_json(tmp_path / "a.json", {"x": np.float32(1.5)})
    runs.atomic_write_text(tmp_path / "b.txt", "hello")
    runs.atomic_write_bytes(tmp_path / "c.bin", b"\x00\x01")
    assert json.loads((tmp_path / "a.json").read_text()) == {"x": 1.5}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.txt", "c.bin"]


def test_failed_model_save_keeps_old_file_and_leaves_no_tmp(tmp_path):
    class Broken:
        def save(self, path):
            with open(path, "wb") as fh:
                fh.write(b"half a fi")
            raise OSError("disk full")

    (tmp_path / "model.keras").write_bytes(b"the good old model")
    with pytest.raises(OSError, match="disk full"):
        runs.atomic_save_model(Broken(), tmp_path / "model.keras")
    assert (tmp_path / "model.keras").read_bytes() == b"the good old model"
    assert [p.name for p in tmp_path.iterdir()] == ["model.keras"]


def test_status_transitions_and_stale_running_reads_as_failed(tmp_path):
    path = runs.create_run(tmp_path, RunConfig(), VOCAB)
    runs.write_status(path, "running", "epoch 1/2")
    assert runs.load_run(path).status == "running"  # this process is alive
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    status = json.loads((path / runs.STATUS).read_text())
    runs.atomic_write_json(path / runs.STATUS, {**status, "pid": int(dead.stdout)})
    info = runs.load_run(path)
    assert info.status == "failed"
    assert "resume" in info.message
    with pytest.raises(ConfigError):
        runs.write_status(path, "exploded")


def test_another_hosts_run_reads_as_running_while_its_folder_is_written_and_failed_once_stale(tmp_path):
    import time

    path = runs.create_run(tmp_path, RunConfig(), VOCAB)
    runs.write_status(path, "running", "epoch 3/40")
    status = json.loads((path / runs.STATUS).read_text())
    elsewhere = {**status, "host": "node-that-is-gone", "pid": 1}  # a chief on a machine we cannot ask
    runs.atomic_write_json(path / runs.STATUS, elsewhere)
    assert runs.load_run(path).status == "running"
    stale = time.time() - runs.STALE_S - 60
    runs.atomic_write_json(path / runs.STATUS, {**elsewhere, "updated": stale})
    runs.write_history(path, runs.read_history(path))  # the chief still writes its history: alive
    assert runs.load_run(path).status == "running"
    os.utime(path / runs.HISTORY, (stale, stale))
    info = runs.load_run(path)
    assert info.status == "failed" and "node-that-is-gone" in info.message and "resume" in info.message


def test_stop_request_round_trip(tmp_path):
    path = runs.create_run(tmp_path, RunConfig(), VOCAB)
    assert not runs.stop_requested(path)
    runs.request_stop(path)
    assert runs.stop_requested(path)
    runs.clear_stop(path)
    assert not runs.stop_requested(path)
    with pytest.raises(RunNotFoundError):
        runs.request_stop(tmp_path / "nope")


def test_list_runs_reports_broken_folders_and_skips_strays(tmp_path):
    good = runs.create_run(tmp_path, RunConfig(), VOCAB)
    broken = runs.create_run(tmp_path, RunConfig(), VOCAB)
    (broken / runs.STATUS).write_text("{not json")
    (tmp_path / "stray").mkdir()
    listed = {r.run_id: r for r in runs.list_runs(tmp_path)}
    assert set(listed) == {good.name, broken.name}
    assert listed[good.name].status == "queued"
    assert listed[broken.name].status == "broken"
    assert "damaged" in listed[broken.name].message
    assert runs.list_runs(tmp_path / "missing") == []


def test_load_run_and_model_errors_are_clear(tmp_path):
    with pytest.raises(RunNotFoundError, match="no run folder"):
        runs.load_run(tmp_path / "missing")
    (tmp_path / "plain").mkdir()
    with pytest.raises(RunNotFoundError, match="not a musegen run"):
        runs.load_run(tmp_path / "plain")
    path = runs.create_run(tmp_path, RunConfig(), VOCAB)
    with pytest.raises(ModelLoadError, match=r"no model\.keras yet"):
        runs.load_run_model(path)


def test_delete_run_refuses_live_training_and_non_runs(tmp_path):
    path = runs.create_run(tmp_path, RunConfig(), VOCAB)
    runs.write_status(path, "running")
    with pytest.raises(TrainingError, match="still training"):
        runs.delete_run(path)
    runs.write_status(path, "stopped")
    runs.delete_run(path)
    assert not path.exists()
    (tmp_path / "plain").mkdir()
    with pytest.raises(RunNotFoundError):
        runs.delete_run(tmp_path / "plain")
    assert (tmp_path / "plain").exists()


def test_stored_split_round_trips_without_pickle(tmp_path):
    path = runs.create_run(tmp_path, RunConfig(), VOCAB)
    train = [np.array([2, 3, 4, 3], np.int32), np.array([2, 4], np.int32)]
    val = [np.array([2, 3, 3, 4, 4], np.int32)]
    runs.save_dataset(path, train, val)
    stored = runs.load_dataset(path)
    assert [s.tolist() for s in stored.train] == [s.tolist() for s in train]
    assert [s.tolist() for s in stored.val] == [s.tolist() for s in val]
    assert stored.vocab.tokens == VOCAB.tokens
    (path / runs.DATA).write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(RunNotFoundError, match="damaged"):
        runs.load_dataset(path)


def test_runs_module_does_not_import_tensorflow():
    code = (
        "import sys, musegen.runs, musegen.training.loop, musegen.evaluation.heldout; "
        "print('tensorflow' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ}, check=True)
    assert out.stdout.strip() == "False"


def test_an_old_piano_roll_run_with_stored_transposed_copies_loads_each_piece_once(tmp_path):
    """Before transposition moved into the pipeline, piano-roll runs stored every copy ("name (+1)");
    resuming one must not transpose the copies again."""
    from musegen.representations.pianoroll import pianoroll_vocab, transpose_frames

    vocab = pianoroll_vocab(4)
    runs.atomic_write_json(tmp_path / runs.VOCAB, vocab.to_dict())
    piece = (np.random.default_rng(0).random((9, 88)) < 0.1).astype(np.uint8)
    train = [piece, transpose_frames(piece, -1), transpose_frames(piece, 1)]
    runs.save_dataset(tmp_path, train, [piece[:5]], (["bwv 1", "bwv 1 (-1)", "bwv 1 (+1)"], ["bwv 2"]))
    stored = runs.load_dataset(tmp_path)
    assert len(stored.train) == 1 and np.array_equal(stored.train[0], piece)
    assert len(stored.val) == 1
