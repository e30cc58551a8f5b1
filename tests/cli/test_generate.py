"""``python -m musegen generate`` with a bundled demo model, as a user runs it."""

from __future__ import annotations

import io
import json
import wave
from pathlib import Path

import pretty_midi
import pytest

from tests.cli_runner import Completed, run_musegen

pytestmark = pytest.mark.slow  # trains real models or runs real processes: `pytest -m "not slow"` skips it

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "assets" / "models" / "demo-wavenet"


def _generate(*args: str) -> Completed:
    return run_musegen("generate", *args, cwd=ROOT)


def test_generate_variations_midi_and_wav(tmp_path):
    out = tmp_path / "song.mid"
    proc = _generate(
        str(DEMO), "--length", "48", "--variations", "2", "--seed", "3", "--out", str(out), "--wav", "--json"
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert [Path(f["midi"]).name for f in summary["files"]] == ["song.mid", "song-2.mid"]
    for f in summary["files"]:
        pm = pretty_midi.PrettyMIDI(f["midi"])
        names = [i.name for i in pm.instruments]
        assert "seed" in names and sum(len(i.notes) for i in pm.instruments) > 0
        with wave.open(io.BytesIO(Path(f["wav"]).read_bytes())) as w:
            assert w.getnchannels() == 2 and w.getframerate() == 44100 and w.getnframes() > 44100


def test_same_seed_same_music_and_seconds_bound(tmp_path):
    a, b = tmp_path / "a.mid", tmp_path / "b.mid"
    for path in (a, b):
        proc = _generate(
            str(DEMO),
            "--seconds",
            "6",
            "--tempo",
            "120",
            "--seed",
            "11",
            "--top-k",
            "8",
            "--no-seed-in-output",
            "--out",
            str(path),
        )
        assert proc.returncode == 0, proc.stderr
    assert a.read_bytes() == b.read_bytes()
    end = pretty_midi.PrettyMIDI(str(a)).get_end_time()
    assert 0 < end <= 6.0 + 1e-6


def test_bad_run_dir_is_a_clear_error(tmp_path):
    proc = _generate(str(tmp_path / "nope"))
    assert proc.returncode == 2
    assert "error:" in proc.stderr and "Traceback" not in proc.stderr


def test_duration_temperature_draws_note_lengths_apart_and_is_checked(tmp_path):
    outs = {}
    for value in ("1.0", "same"):
        outs[value] = tmp_path / f"{value}.mid"
        proc = _generate(
            str(DEMO), "--length", "96", "--seed", "5", "--duration-temperature", value, "--out", str(outs[value])
        )
        assert proc.returncode == 0, proc.stderr
    # the same seed, the pitches drawn at 0.8 both times, the durations at 1.0 or at 0.8: other music
    assert outs["1.0"].read_bytes() != outs["same"].read_bytes()
    proc = _generate(str(DEMO), "--duration-temperature", "warm")
    assert proc.returncode == 2 and "duration-temperature" in proc.stderr and "Traceback" not in proc.stderr
    proc = _generate(str(DEMO), "--duration-temperature", "0")
    assert proc.returncode == 2 and "duration_temperature" in proc.stderr and "Traceback" not in proc.stderr


def test_motif_memory_changes_the_music_and_is_checked(tmp_path):
    outs = {}
    for value in ("0", "0.8"):
        outs[value] = tmp_path / f"{value}.mid"
        proc = _generate(str(DEMO), "--length", "96", "--seed", "5", "--motif-memory", value, "--out", str(outs[value]))
        assert proc.returncode == 0, proc.stderr
    assert outs["0"].read_bytes() != outs["0.8"].read_bytes()  # the same seed: the memory made other music
    proc = _generate(str(DEMO), "--motif-memory", "1.5")
    assert proc.returncode == 2 and "motif_memory" in proc.stderr and "Traceback" not in proc.stderr
