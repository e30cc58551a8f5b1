"""``ingest PATH --store DIR`` then ``train --store DIR``, ``evaluate`` and ``generate``, as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from musegen import runs
from musegen.sources.corpus import load_builtin_corpus
from musegen.streams.store import MANIFEST, open_store
from tests.cli_runner import Completed, run_musegen
from tests.midi_factory import piece_midi

pytestmark = pytest.mark.slow  # real processes and a real (tiny) training

ROOT = Path(__file__).resolve().parents[2]
TINY = [
    "--arch", "lstm", "--units", "32", "--layers", "1", "--embed-dim", "16", "--window", "32", "--stride", "32",
    "--batch-size", "32", "--lr", "0.01", "--epochs", "2", "--fim-rate", "0",
]  # fmt: skip


def _musegen(*args: str) -> Completed:
    return run_musegen(*args, cwd=ROOT)


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("midi")
    for piece in load_builtin_corpus(limit=24):
        (folder / f"{piece.name}.mid").write_bytes(piece_midi(piece))
    (folder / "empty.mid").write_bytes(b"")
    out = tmp_path_factory.mktemp("stores") / "bach"
    proc = _musegen("ingest", str(folder), "--store", str(out), "--val-fraction", "0.2")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "24 stored, 1 skipped" in proc.stdout
    assert "skipped 1: empty file (0 bytes). (e.g. empty.mid)" in proc.stdout
    assert "files" in proc.stderr  # progress on stderr
    return out


@pytest.fixture(scope="module")
def trained(store, tmp_path_factory) -> dict:
    runs_dir = tmp_path_factory.mktemp("runs")
    proc = _musegen("train", "--store", str(store), *TINY, "--runs-dir", str(runs_dir), "--json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def test_training_from_the_store_learns_and_the_run_keeps_no_corpus(store, trained):
    assert trained["status"] == "finished" and trained["epochs_done"] == 2
    run_dir = Path(trained["run_dir"])
    history = runs.read_history(run_dir)
    losses = [e.loss for e in history.epochs]
    assert losses[1] < losses[0]
    ref = runs.store_reference(run_dir)
    opened = open_store(store)
    assert ref["manifest_hash"] == opened.manifest_hash and ref["pieces"] == 24
    assert not any(f.name.endswith(".bin") for f in run_dir.iterdir())
    sample = runs.load_dataset(run_dir)  # the bounded sample the run keeps: at most the store's pieces
    assert len(sample.val) == int(opened.manifest["val_pieces"])
    np.testing.assert_array_equal(sample.val[0], opened.piece(int(opened.indices(1)[0])))
    assert trained["metrics"]["val_pieces"] == len(sample.val)  # evaluated on the stored validation sample
    tempos = runs.piece_tempos(run_dir)  # the sample carries its pieces' tempos (the files are at 120 BPM)
    assert tempos == {"train": [120.0] * len(sample.train), "val": [120.0] * len(sample.val)}


def test_evaluate_and_generate_work_on_a_store_run(trained, tmp_path):
    run_dir = trained["run_dir"]
    proc = _musegen("evaluate", run_dir, "--json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout)["metrics"]["model"]["nll"] > 0
    out = tmp_path / "out.mid"
    proc = _musegen("generate", run_dir, "--length", "24", "--seed", "1", "--out", str(out), "--json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert out.is_file() and out.read_bytes()[:4] == b"MThd"


def test_resume_reads_the_store_again(store, trained):
    from musegen.streams.store import StoreDataset

    resumed = runs.training_dataset(trained["run_dir"])  # what the CLI and the app's background jobs resume on
    assert isinstance(resumed, StoreDataset) and resumed.store.path == store
    proc = _musegen("train", "--resume", trained["run_dir"], "--epochs", "3", "--json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout)["epochs_done"] == 3


def test_a_half_written_store_is_refused_by_train(store, tmp_path):
    half = tmp_path / "half"
    half.mkdir()
    for f in store.iterdir():
        if f.name != MANIFEST:
            (half / f.name).write_bytes(f.read_bytes())
    proc = _musegen("train", "--store", str(half), *TINY, "--runs-dir", str(tmp_path / "runs"))
    assert proc.returncode == 2
    assert "half-written token store" in proc.stderr and "Traceback" not in proc.stderr


def test_flags_the_store_decides_are_refused(store, tmp_path):
    proc = _musegen("train", "--store", str(store), "--repr", "classic", "--runs-dir", str(tmp_path))
    assert proc.returncode == 2 and "holds timed tokens" in proc.stderr
    proc = _musegen("ingest", str(store), "--max-files", "0", "--store", str(tmp_path / "s"))
    assert proc.returncode == 2 and "--max-files must be between 1" in proc.stderr
    proc = _musegen("ingest", str(store), "--workers", "0", "--store", str(tmp_path / "s"))
    assert proc.returncode == 2 and "--workers must be between 1 and 64" in proc.stderr


def test_a_command_line_ingest_may_use_more_decoding_workers_than_a_server():
    from musegen.sources import sandbox

    before = sandbox.WORKERS
    try:
        sandbox.set_worker_limit(8)
        assert sandbox.WORKERS == 8
        sandbox.set_worker_limit(10_000)
        assert sandbox.WORKERS == sandbox.MAX_WORKERS
    finally:
        sandbox.set_worker_limit(before)
