"""Pretraining: the base model trained on a token store, resumed by a second call, then fine-tuned by name."""

from __future__ import annotations

import json
from pathlib import Path

import keras  # noqa: F401  (a hard dependency: a broken install fails, never skips)
import pytest

from musegen import runs
from musegen.cli import main
from musegen.errors import ConfigError, TrainingError
from musegen.evaluation.originality import BASE_INDEX
from musegen.metrics.originality_file import load_index
from musegen.sources.corpus import load_builtin_corpus
from musegen.training import finetune
from musegen.training.pretrain import BASE_MODEL, base_config, model_bytes, pretrain
from tests.midi_factory import piece_midi

pytestmark = pytest.mark.slow  # trains real models

TINY = {"d_model": 32, "embed_dim": 32, "heads": 2, "transformer_layers": 1, "window": 32, "stride": 32, "epochs": 1}


@pytest.fixture(scope="module")
def pieces(tmp_path_factory) -> tuple[Path, list[Path]]:
    """A token store of 12 chorales (what `corpus build` makes, in small) and 3 other chorales as MIDI files."""
    folder, mine = tmp_path_factory.mktemp("corpus"), tmp_path_factory.mktemp("mine")
    chorales = load_builtin_corpus(limit=15)
    for piece in chorales[:12]:
        (folder / f"{piece.name}.mid").write_bytes(piece_midi(piece))
    files = []
    for piece in chorales[12:]:
        files.append(mine / f"{piece.name}.mid")
        files[-1].write_bytes(piece_midi(piece))
    store = tmp_path_factory.mktemp("stores") / "corpus"
    assert main(["ingest", str(folder), "--store", str(store), "--val-fraction", "0.2"]) == 0
    return store, files


def test_the_base_is_a_transformer_reading_long_windows_that_infills():
    from musegen.config import DataConfig

    config = base_config(DataConfig(), minutes=120)
    assert config.model == BASE_MODEL and config.model.arch == "transformer"
    assert (config.data.window, config.data.fim_rate, config.train.max_minutes) == (256, 0.5, 120.0)
    with pytest.raises(ConfigError, match="unknown base model settings: colour"):
        base_config(DataConfig(), colour="blue")


def test_pretrain_resume_and_finetune_by_name(pieces, tmp_path, monkeypatch, capsys):
    store, mine = pieces
    with pytest.raises(ConfigError, match="holds 'base'"):
        pretrain(store, tmp_path, "mine", 1.0)
    result = pretrain(store, tmp_path, "tiny-base", 2.0, **TINY)
    assert result.status == "finished" and result.epochs_done == 1
    info = runs.load_run(tmp_path / "tiny-base")
    assert info.config.model.arch == "transformer" and info.config.data.fim_rate == 0.5
    assert 0 < model_bytes(info.path) < 1_000_000 and info.metrics is not None
    # a second call resumes the run (its own settings): here it has all its epochs already
    with pytest.raises(TrainingError, match="already has 1 epochs"):
        pretrain(store, tmp_path, "tiny-base", 2.0)
    with pytest.raises(ConfigError, match="resumed with its own settings"):
        pretrain(store, tmp_path, "tiny-base", 2.0, d_model=64)
    # bundled bases are found by name, and fine-tuned from the command line
    monkeypatch.setenv("MUSEGEN_DEMO_DIR", str(tmp_path))
    assert [p.name for p in finetune.bundled_bases()] == ["tiny-base"]
    argv = ["train", "--finetune", "tiny-base", "--data", *map(str, mine), "--epochs", "1", "--json"]
    assert main([*argv, "--runs-dir", str(tmp_path / "runs"), "--max-minutes", "2"]) == 0
    tuned = json.loads(capsys.readouterr().out)
    assert tuned["status"] == "finished"
    assert runs.load_run(tuned["run_dir"]).config.base == str((tmp_path / "tiny-base").resolve())
    _originality_of_both(tmp_path / "tiny-base", Path(tuned["run_dir"]), tmp_path / "out", capsys)


def _originality_of_both(base: Path, tuned: Path, out: Path, capsys) -> None:
    """A fine-tuned run's music is checked against the user's pieces and, separately, the base's corpus (the
    index pretrain wrote beside the base); a damaged index costs only that second check, with the reason."""
    assert (base / BASE_INDEX).is_file()
    corpus = set(load_index(base / BASE_INDEX).names)
    argv = ["generate", str(tuned), "--length", "40", "--out", str(out), "--json"]
    assert main(argv) == 0
    entry = json.loads(capsys.readouterr().out)["files"][0]
    assert entry["originality"]["training_piece"] not in corpus  # one of the user's three chorales
    assert entry["originality_base"]["training_piece"] in corpus
    assert main(argv[:-1]) == 0
    text = capsys.readouterr().out
    assert "in your pieces" in text and "in the base model's corpus" in text  # ("also in ..." or "no passage ...")
    (base / BASE_INDEX).write_bytes(b"damaged")
    assert main(argv) == 0
    entry = json.loads(capsys.readouterr().out)["files"][0]
    assert "cannot be read as an originality index" in entry["originality_base"]["note"]
    assert entry["originality"]["notes"] >= 1
    # infilling under constraints, and surprise, on the fine-tuned run (it infills: the base learned FIM)
    steer = [
        "--infill",
        "2:6",
        "--seed-piece",
        "0",
        "--pitch-range",
        "C3:C6",
        "--seed",
        "1",
        "--out",
        str(out),
        "--json",
    ]
    assert main(["generate", str(tuned), *steer]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["infill"]["start"] == 2.0 and summary["files"][0]["new_notes"] >= 0
    assert main(["evaluate", str(tuned), "--surprise-piece", "0", "--json"]) == 0
    surprise = json.loads(capsys.readouterr().out)
    assert surprise["ok"] and surprise["mean_nll"] > 0


def test_the_command_reports_the_model_size(pieces, tmp_path, capsys):
    store, _ = pieces
    sets = [arg for key, value in TINY.items() for arg in ("--set", f"{key}={value}")]
    argv = ["pretrain", "--store", str(store), "--runs-dir", str(tmp_path), "--name", "cli-base", *sets, "--json"]
    assert main([*argv, "--minutes", "2"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and report["fits_bundle"] and report["model_bytes"] > 0
