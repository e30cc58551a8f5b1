"""``python -m musegen evaluate RUN_DIR --surprise FILE.mid``: where a bundled demo model is surprised."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_runner import Completed, run_musegen
from tests.midi_factory import piece_midi

pytestmark = pytest.mark.slow  # runs real processes that load a model

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "assets" / "models" / "demo-wavenet"


def _evaluate(*args: str) -> Completed:
    return run_musegen("evaluate", str(DEMO), *args, cwd=ROOT)


def test_surprise_of_a_midi_file_as_json(tmp_path, chorales):
    song = tmp_path / "song.mid"
    song.write_bytes(piece_midi(chorales[3]))
    before = (DEMO / "metrics.json").read_bytes()
    proc = _evaluate("--surprise", str(song), "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["ok"] is True and out["unit"] == "token" and out["run_id"] == "demo-wavenet"
    assert out["piece"].startswith("uploaded: song.mid")
    assert out["mean_nll"] > 0 and out["heldout_nll"] > 0
    assert out["delta_nll"] == pytest.approx(out["mean_nll"] - out["heldout_nll"], abs=2e-4)
    assert len(out["notes"]) == out["n_notes"] > 0 and len(out["top"]) == 10
    assert {"start", "end", "pitch", "nll"} <= set(out["notes"][0])
    assert (DEMO / "metrics.json").read_bytes() == before  # scoring one piece leaves the held-out metrics alone


def test_surprise_of_a_stored_piece_reads_as_a_summary():
    proc = _evaluate("--surprise-piece", "0")
    assert proc.returncode == 0, proc.stderr
    heldout = json.loads((DEMO / "metrics.json").read_text())["model"]["nll"]
    assert "surprise of held-out" in proc.stdout and "under run demo-wavenet" in proc.stdout
    assert f"held-out mean {heldout:.4f} nats per token" in proc.stdout
    assert "the 10 most surprising notes" in proc.stdout
    assert len([line for line in proc.stdout.splitlines() if line.strip()[:1].isdigit()]) == 10


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--surprise", "PAGE"), "not a MIDI file"),
        (("--surprise", "MISSING"), "cannot score it"),
        (("--surprise-piece", "9999"), "piece index must be 0.."),
    ],
)
def test_a_bad_file_or_piece_is_a_message_and_a_non_zero_exit(tmp_path, args, message):
    page = tmp_path / "page.mid"
    page.write_bytes(b"<!DOCTYPE html><html></html>")
    given = {"PAGE": str(page), "MISSING": str(tmp_path / "missing.mid")}
    proc = _evaluate(*(given.get(a, a) for a in args))
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr
    with_json = _evaluate(*(given.get(a, a) for a in args), "--json")
    assert with_json.returncode == 2 and json.loads(with_json.stdout)["ok"] is False
