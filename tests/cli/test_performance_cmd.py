"""``python -m musegen train --repr performance`` then ``generate`` on that run, as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pretty_midi
import pytest

from musegen import runs
from musegen.notes import UNQUANTIZED_BELOW, grid_fit
from tests.cli_runner import Completed, run_musegen
from tests.representations.test_performance import played_piece

pytestmark = pytest.mark.slow  # trains a real model in real processes

ROOT = Path(__file__).resolve().parents[2]


def _musegen(*args: str) -> Completed:
    return run_musegen(*args, cwd=ROOT)


def _played_midi(folder: Path, n: int = 6) -> Path:
    """Played (unquantized) piano files with dynamics, as a keyboard records them at 120 BPM."""
    folder.mkdir()
    for seed in range(n):
        piece = played_piece(seed, tempo_map=None)
        pm = pretty_midi.PrettyMIDI(initial_tempo=120.0)
        piano = pretty_midi.Instrument(program=0)
        piano.notes = [
            pretty_midi.Note(velocity=int(v), pitch=int(p), start=s / 2, end=e / 2) for s, e, p, v in piece.notes
        ]
        pm.instruments.append(piano)
        pm.write(str(folder / f"played-{seed}.mid"))
    return folder


def test_a_performance_run_trains_and_generates_from_the_command_line(tmp_path):
    data = _played_midi(tmp_path / "midi")
    flags = ["--window", "64", "--stride", "32", "--val-fraction", "0.25", "--batch-size", "16", "--embed-dim", "16"]
    flags += ["--units", "32", "--layers", "1", "--lr", "0.005", "--epochs", "2"]
    proc = _musegen(
        "train", "--data", str(data), "--repr", "performance", "--arch", "lstm", *flags,
        "--runs-dir", str(tmp_path / "runs"), "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert report["ok"] is True and report["metrics"]["unit"] == "event"
    assert np.isfinite(report["metrics"]["model"]["nll"]) and np.isfinite(report["metrics"]["baseline"]["nll"])
    run_dir = Path(report["run_dir"])
    config = runs.load_run(run_dir).config
    assert config.data.representation == "performance" and config.data.fim_rate == 0.5  # it learns to infill too

    out = tmp_path / "played.mid"
    proc = _musegen(
        "generate", str(run_dir), "--length", "160", "--seed", "3", "--top-k", "0", "--temperature", "1.0",
        "--no-seed-in-output", "--out", str(out), "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout)
    assert summary["constraints"] == "at most 10 notes at once, well-formed tokens"  # event runs' defaults
    pm = pretty_midi.PrettyMIDI(str(out))
    notes = [n for inst in pm.instruments for n in inst.notes]
    assert len(notes) > 10
    beats = np.array([[n.start * 2, n.end * 2, n.pitch, n.velocity] for n in notes])  # at 120 BPM
    assert grid_fit(beats) < UNQUANTIZED_BELOW  # played timing, off the sixteenth grid
    assert len({n.velocity for n in notes}) >= 3  # dynamics

    seed = data / "played-1.mid"  # a span in seconds of a seed file, filled in
    out = tmp_path / "filled.mid"
    proc = _musegen(
        "generate", str(run_dir), "--seed-midi", str(seed), "--infill", "2s:4.5s", "--length", "400",
        "--variations", "1", "--out", str(out), "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    infill = json.loads(proc.stdout)["infill"]
    assert infill["seconds"] == pytest.approx([2.0, 4.5], abs=0.011) and infill["prompt"].startswith(
        "seconds 2.00-4.50"
    )
    before = [n for inst in pretty_midi.PrettyMIDI(str(seed)).instruments for n in inst.notes]
    after = [n for inst in pretty_midi.PrettyMIDI(str(out)).instruments for n in inst.notes]
    outside = lambda notes: sorted((round(n.start, 2), n.pitch) for n in notes if not 2.0 <= n.start < 4.5)  # noqa: E731
    assert outside(after) == outside(before)  # the music around the span stays where it was
    assert any(2.0 <= n.start < 4.5 for n in after)
    proc = _musegen("generate", str(run_dir), "--infill", "2s:4", "--out", str(tmp_path / "x.mid"))
    assert proc.returncode == 2 and "in seconds (e.g. 4s:8.5s)" in proc.stderr
    assert "Traceback" not in proc.stderr
