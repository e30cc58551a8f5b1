"""``python -m musegen generate`` steered: --infill, --key, --pitch-range, --max-polyphony, --no-grammar, and
the originality of every result in --json; the flags' mistakes are clear messages before any work."""

from __future__ import annotations

import json
from pathlib import Path

import pretty_midi
import pytest

from tests.cli_runner import Completed, run_musegen
from tests.generation.steering import most_at_once

pytestmark = pytest.mark.slow  # runs real processes with a real model

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "assets" / "models" / "demo-transformer"


def _generate(*args: str) -> Completed:
    return run_musegen("generate", *args, cwd=ROOT)


def _notes(path: str) -> list[pretty_midi.Note]:
    return [n for i in pretty_midi.PrettyMIDI(path).instruments for n in i.notes]


def test_infill_a_span_of_a_seed_piece_as_json(tmp_path):
    out = tmp_path / "fill.mid"
    args = ["--infill", "4:8", "--seed-piece", "2", "--variations", "2", "--seed", "1", "--tempo", "60"]
    proc = _generate(str(DEMO), *args, "--out", str(out), "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["infill"]["start"] == 4.0 and summary["infill"]["end"] == 8.0
    assert summary["infill"]["advice"] is None  # a Transformer uses what follows the span
    assert len(summary["files"]) == 2
    for f in summary["files"]:
        assert f["new_notes"] > 0 and f["notes"] > f["new_notes"]
        copy = f["originality"]
        assert {"notes", "beats", "training_piece", "flagged"} <= set(copy)
        notes = _notes(f["midi"])  # at 60 BPM a beat is a second
        assert any(n.start < 4.0 for n in notes) and any(n.start >= 8.0 for n in notes)


def test_infilling_with_an_lstm_says_it_follows_what_comes_before(tmp_path):
    lstm = ROOT / "assets" / "models" / "demo-lstm"
    args = ["--infill", "4:6", "--seed-piece", "2", "--length", "64", "--out", str(tmp_path / "fill.mid")]
    proc = _generate(str(lstm), *args)
    assert proc.returncode == 0, proc.stderr
    note = next(line for line in proc.stdout.splitlines() if line.startswith("note: "))
    assert "follows what comes before" in note and "WaveNet and Transformer" in note


def test_constraint_flags_hold_in_every_file(tmp_path):
    out = tmp_path / "kept.mid"
    flags = ["--key", "D minor", "--pitch-range", "D3:D5", "--max-polyphony", "2", "--no-seed-in-output"]
    proc = _generate(str(DEMO), *flags, "--length", "96", "--variations", "2", "--seed", "4", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "constraints: in D minor, pitches 50-74, at most 2 notes at once, well-formed tokens" in proc.stdout
    assert "longest passage also in the training data" in proc.stdout
    for path in (out, out.with_name("kept-2.mid")):
        notes = _notes(str(path))
        assert notes and {n.pitch % 12 for n in notes} <= {2, 4, 5, 7, 9, 10, 0}
        assert all(50 <= n.pitch <= 74 for n in notes)
        from musegen.sources.ingest import read_midi_bytes

        assert most_at_once(read_midi_bytes(path.read_bytes(), path.name)) <= 2


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--key", "H major"], "is not a key"),
        (["--key", "C bebop"], "unknown scale"),
        (["--pitch-range", "80:70"], "low <= high"),
        (["--pitch-range", "C3-C5"], "--pitch-range must be LOW:HIGH"),
        (["--key", "C major", "--pitch-range", "61:61"], "widen the pitch range"),
        (["--max-polyphony", "-1"], "max_polyphony"),
        (["--infill", "8"], "--infill must be START:END"),
        (["--infill", "8:4"], "0 <= START < END"),
        (["--infill", "2:4", "--seconds", "10"], "continuations only"),
        (["--infill", "900:910"], "after the piece ends"),
    ],
)
def test_a_wrong_steering_flag_is_a_clear_message(tmp_path, flags, message):
    proc = _generate(str(DEMO), *flags, "--out", str(tmp_path / "x.mid"))
    assert proc.returncode != 0
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "x.mid").exists()


def test_infill_with_a_run_that_cannot_says_so(tmp_path):
    classic = ROOT / "assets" / "models" / "demo-wavenet"  # any run; strip its infilling tokens in a copy
    import shutil

    old = tmp_path / "old"
    shutil.copytree(classic, old, ignore=shutil.ignore_patterns("last.keras"))
    vocab = json.loads((old / "vocab.json").read_text())
    vocab["tokens"] = [t for t in vocab["tokens"] if not t.startswith("<fim_")]
    (old / "vocab.json").write_text(json.dumps(vocab))
    proc = _generate(str(old), "--infill", "2:4", "--out", str(tmp_path / "x.mid"))
    assert proc.returncode != 0 and "trained without fill-in-the-middle" in proc.stderr
    assert "Traceback" not in proc.stderr


def _train(*args: str) -> Completed:
    return run_musegen("train", *args, cwd=ROOT)


def test_a_new_cli_run_learns_to_infill_unless_told_not_to(tmp_path):
    tiny = ["--arch", "lstm", "--units", "16", "--embed-dim", "8", "--layers", "1", "--window", "48"]
    tiny += ["--stride", "24", "--epochs", "1", "--max-pieces", "8", "--no-eval", "--runs-dir", str(tmp_path)]
    proc = _train(*tiny, "--name", "fim", "--json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    run = tmp_path / "fim"
    assert json.loads((run / "config.json").read_text())["data"]["fim_rate"] == 0.5
    assert "<fim_end>" in json.loads((run / "vocab.json").read_text())["tokens"]
    out = tmp_path / "x.mid"
    filled = _generate(str(run), "--infill", "2:4", "--seed-piece", "0", "--out", str(out), "--json")
    assert filled.returncode == 0, filled.stderr[-2000:]
    span = json.loads(filled.stdout)["infill"]
    assert (span["start"], span["end"]) == (2.0, 4.0)
    plain = _train(*tiny, "--name", "plain", "--fim-rate", "0", "--json")
    assert plain.returncode == 0, plain.stderr[-2000:]
    assert "<fim_end>" not in json.loads((tmp_path / "plain" / "vocab.json").read_text())["tokens"]
    refused = _train("--arch", "classic-lstm", "--fim-rate", "0.5", "--runs-dir", str(tmp_path))
    assert refused.returncode == 2 and "cannot fill in a passage" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_chords_hold_and_json_reports_the_share_of_chord_tones_per_bar(tmp_path):
    out = tmp_path / "chords.mid"
    flags = ["--chords", "C | Am | F | G", "--chord-bass", "--length", "96", "--variations", "2", "--seed", "3"]
    proc = _generate(str(DEMO), *flags, "--out", str(out), "--json")
    assert proc.returncode == 0, proc.stderr
    chords = json.loads(proc.stdout)["chords"]
    assert chords["progression"] == "C | Am | F | G" and chords["share"] == 1.0 and chords["shares"] == [1.0, 1.0]
    bars = chords["bars"][0]
    assert bars[0]["bar"] == 1 and bars[0]["chords"] == "C" and all(b["share"] == 1.0 for b in bars)
    bad = _generate(str(DEMO), "--chords", "C | Hm7", "--out", str(out))
    assert bad.returncode != 0 and "bar 2 (Hm7): 'Hm7' is not a chord symbol" in bad.stderr
    assert "Traceback" not in bad.stderr
