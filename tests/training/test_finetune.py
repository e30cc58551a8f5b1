"""Fine-tuning: a run that starts from a trained run's weights, keeps its tokens and model, and names its base."""

from __future__ import annotations

import json
from pathlib import Path

import keras  # noqa: F401  (a hard dependency: a broken install fails, never skips)
import numpy as np
import pytest

from musegen import runs
from musegen.cli import main
from musegen.errors import ConfigError, RunNotFoundError
from musegen.representations.registry import for_config
from musegen.training.finetune import (
    FINETUNE_TRAIN,
    Coverage,
    finetune_config,
    finetune_dataset,
    resolve_base,
    start_from_base,
)
from tests.cli.test_train import _train_in_a_process
from tests.midi_factory import piece_midi
from tests.shared import once

pytestmark = pytest.mark.slow  # trains real models


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> runs.RunInfo:
    """The tiny WaveNet of tests/cli/test_train.py (8 chorales, 2 epochs), shared with it in one process."""
    report, _ = once(("cli-train",), lambda: _train_in_a_process(tmp_path_factory.mktemp("runs")))
    return runs.load_run(report["run_dir"])


@pytest.fixture(scope="module")
def other_chorales(tmp_path_factory, chorales) -> list[Path]:
    """Four chorales the base never saw, as MIDI files."""
    folder = tmp_path_factory.mktemp("mine")
    paths = []
    for piece in chorales[8:12]:
        path = folder / f"{piece.name.replace('/', '_')}.mid"
        path.write_bytes(piece_midi(piece))
        paths.append(path)
    return paths


def test_the_config_is_the_bases_with_fine_tuning_settings(base):
    config = finetune_config(base, max_minutes=3.0)
    assert config.data == base.config.data and config.model == base.config.model
    assert config.train.learning_rate == FINETUNE_TRAIN["learning_rate"] < base.config.train.learning_rate
    assert config.train.max_minutes == 3.0 and config.base == str(base.path.resolve())
    assert finetune_config(base, learning_rate=1e-4).train.learning_rate == 1e-4
    with pytest.raises(ConfigError, match="unknown training settings: colour"):
        finetune_config(base, colour="blue")


def test_a_base_is_a_run_with_a_model(base, tmp_path):
    assert resolve_base(base.path).run_id == base.run_id
    with pytest.raises(RunNotFoundError, match="bundled base"):
        resolve_base(tmp_path / "nothing")
    empty = runs.create_run(tmp_path, base.config, base.vocab(), name="untrained")
    with pytest.raises(ConfigError, match="no trained model"):
        resolve_base(empty)


def test_the_model_starts_with_the_bases_weights(base):
    model = for_config(base.config.data).build_model(base.config)
    start_from_base(model, base.path)
    for ours, theirs in zip(model.get_weights(), runs.load_run_model(base.path).get_weights(), strict=True):
        np.testing.assert_array_equal(ours, theirs)
    wider = finetune_config(base)
    wider.model.channels = 24
    with pytest.raises(ConfigError, match="does not have this run's shape"):
        start_from_base(for_config(wider.data).build_model(wider), base.path)


def test_pieces_go_onto_the_bases_ids_and_what_it_lacks_is_counted(base, chorales):
    config = finetune_config(base)
    dataset, coverage = finetune_dataset(chorales[8:12], config, base)
    assert dataset.vocab.tokens == base.vocab().tokens
    assert coverage.tokens == dataset.n_train_tokens + dataset.n_val_tokens > 0
    # timed tokens are a closed grid: every pitch, shift and duration of it is a token of any base
    assert coverage.unknown == 0 and "every one of the" in coverage.message()
    some = Coverage(tokens=2000, unknown=30)
    assert some.share_unknown == 0.015 and "30 of the 2,000 tokens of your pieces (1.5%)" in some.message()


def test_train_finetune_learns_from_the_base_and_names_it(base, other_chorales, tmp_path, capsys):
    flags = ["--data", *map(str, other_chorales), "--epochs", "1", "--runs-dir", str(tmp_path), "--json"]
    assert main(["train", "--finetune", str(base.path), "--name", "tuned", *flags]) == 0
    captured = capsys.readouterr()
    tuned = json.loads(captured.out)
    assert "fine-tuning " + base.run_id in captured.err and "tokens of your pieces" in captured.err
    info = runs.load_run(tuned["run_dir"])
    assert info.config.base == str(base.path.resolve()) and info.config.model == base.config.model
    assert info.vocab().tokens == base.vocab().tokens and info.config.train.learning_rate == 3e-4
    # the same pieces from random weights, at the rate and batch the base was trained with
    scratch = ["--window", "32", "--stride", "16", "--embed-dim", "16", "--channels", "16", "--dilation-cycle", "5"]
    assert main(["train", "--name", "scratch", *scratch, "--lr", "0.003", "--batch-size", "32", *flags]) == 0
    fresh = json.loads(capsys.readouterr().out)
    assert tuned["best_value"] < fresh["best_value"]  # one epoch from the base beats one from nothing
    assert main(["train", "--finetune", str(base.path), "--arch", "lstm", *flags]) == 2
    assert "--arch cannot be set when fine-tuning" in capsys.readouterr().err
    assert main(["train", "--finetune", str(tmp_path / "none"), *flags]) == 2
    assert "no base model" in capsys.readouterr().err


def test_a_damaged_base_is_refused_with_the_reason_and_nothing_is_trained(base, other_chorales, tmp_path, capsys):
    """A base folder whose model file, configuration or vocabulary is damaged: exit 2, a sentence naming the file,
    no traceback, and no run folder left behind as if it had trained."""
    import shutil

    damages = {
        "model.keras": lambda p: p.write_bytes(p.read_bytes()[:200]),
        "config.json": lambda p: p.write_text("{not json", encoding="utf-8"),
        "vocab.json": lambda p: p.write_text('{"tokens": ["x"]}', encoding="utf-8"),
    }
    for name, damage in damages.items():
        copy = tmp_path / f"base-{name.split('.')[0]}"
        shutil.copytree(base.path, copy)
        damage(copy / name)
        runs_dir = tmp_path / f"runs-{name}"
        argv = ["train", "--finetune", str(copy), "--data", *map(str, other_chorales), "--epochs", "1"]
        assert main([*argv, "--runs-dir", str(runs_dir)]) == 2, name
        err = capsys.readouterr().err
        assert "Traceback" not in err and (name in err or str(copy) in err), (name, err)
        trained = [p for p in runs_dir.glob("*/model.keras")] if runs_dir.is_dir() else []
        assert not trained, name
