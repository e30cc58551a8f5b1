"""``python -m musegen train|evaluate``: JSON output, resume, presets, errors with exit 2."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import keras  # noqa: F401  (a hard dependency: a broken install fails, never skips)
import pytest

from musegen import runs
from musegen.cli import main
from musegen.training.presets import preset_config
from tests.shared import once

pytestmark = pytest.mark.slow  # trains real models or runs real processes: `pytest -m "not slow"` skips it

TINY_FLAGS = [
    "--max-pieces", "8", "--window", "32", "--stride", "16", "--val-fraction", "0.25", "--batch-size", "32",
    "--embed-dim", "16", "--channels", "16", "--dilation-cycle", "5", "--lr", "0.003",
]  # fmt: skip


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory) -> tuple[dict, str]:
    return once(("cli-train",), lambda: _train_in_a_process(tmp_path_factory.mktemp("runs")))


def _train_in_a_process(runs_dir: Path) -> tuple[dict, str]:
    # a real process, as a user or a script runs it
    proc = subprocess.run(
        [sys.executable, "-m", "musegen", "train", *TINY_FLAGS, "--epochs", "2", "--runs-dir", str(runs_dir), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).parents[2],
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout), proc.stderr


def test_train_json_prints_one_object_with_the_run(cli_run):
    report, stderr = cli_run
    assert report["ok"] is True
    assert report["status"] == "finished"
    assert report["epochs_done"] == 2
    run_dir = Path(report["run_dir"])
    assert (run_dir / "model.keras").is_file()
    assert "-wavenet-" in report["run_id"]
    assert report["metrics"]["baseline"]["nll"] < report["metrics"]["uniform_nll"]
    assert "epoch 2/2" in stderr  # progress goes to stderr with --json
    config = runs.load_run(run_dir).config
    assert (config.data.window, config.model.channels, config.train.batch_size) == (32, 16, 32)
    assert config.dataset_name == "bach-chorales (first 8 pieces)"
    names = runs.piece_names(run_dir)  # the Generate page's seed picker shows them
    assert len(names["train"]) + len(names["val"]) >= 8 and all(names["val"])


def test_resume_and_evaluate_from_the_command_line(cli_run, tmp_path, capsys):
    import shutil

    run_dir = tmp_path / "copy"
    shutil.copytree(cli_run[0]["run_dir"], run_dir)
    # what a process killed in the middle of epoch 3 leaves: its batches and a temporary file
    history = runs.read_history(run_dir)
    lost = [dataclasses.replace(b, epoch=3) for b in history.batches[:2]]
    runs.write_history(run_dir, dataclasses.replace(history, batches=history.batches + lost))
    (run_dir / ".last.keras.1234.tmp.keras").write_bytes(b"half a model")
    assert main(["train", "--resume", str(run_dir), "--epochs", "3"]) == 0
    out = capsys.readouterr().out
    assert "epoch 3/3" in out and "epoch 1/3" not in out
    batches = runs.read_history(run_dir).batches
    assert sum(b.epoch == 3 for b in batches) == sum(b.epoch == 1 for b in batches)  # epoch 3 charted once
    assert not list(run_dir.glob(".*.tmp*"))
    assert "n-gram baseline" in out and f"run folder: {run_dir}" in out
    assert main(["evaluate", str(run_dir), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["metrics"]["best_epoch"] in (1, 2, 3)
    assert main(["evaluate", str(run_dir)]) == 0
    assert "-gram" in capsys.readouterr().out


def test_evaluate_a_truncated_model_exits_2_with_a_message(cli_run, tmp_path, capsys):
    import shutil

    run_dir = tmp_path / "broken"
    shutil.copytree(cli_run[0]["run_dir"], run_dir)
    (run_dir / "model.keras").write_bytes(b"PK\x03\x04 not much")
    assert main(["evaluate", str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--epochs", "0", "--max-pieces", "2"], "epochs"),
        (["train", "--window", "1", "--max-pieces", "2"], "window"),
        (["train", "--max-pieces", "0"], "--max-pieces"),
        (["train", "--resume", "/no/such/run"], "no run folder"),
        (["evaluate", "/no/such/run"], "no run folder"),
    ],
)
def test_bad_values_exit_2_with_a_clear_message(argv, message, tmp_path, capsys):
    assert main([*argv, "--runs-dir", str(tmp_path)] if argv[0] == "train" else argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err


def test_resume_refuses_to_change_the_model(cli_run, capsys):
    assert main(["train", "--resume", cli_run[0]["run_dir"], "--arch", "lstm", "--window", "8"]) == 2
    assert "--arch, --window cannot change when resuming" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["train", "--arch", "gru"], ["train", "--epochs", "many"], ["evaluate"]])
def test_malformed_flags_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_demo_preset_is_small_and_named():
    for arch in ("wavenet", "lstm", "classic-wavenet", "classic-lstm"):
        config, name = preset_config("demo", arch)
        assert name == f"demo-{arch}"
        assert config.train.epochs >= 1 and config.train.max_minutes > 0
        if arch == "wavenet":
            assert config.model.receptive_field() >= config.data.window
    with pytest.raises(Exception, match="unknown preset"):
        preset_config("huge")
