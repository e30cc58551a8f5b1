"""``python -m musegen ingest`` as a user runs it (in this process, tests/cli_runner.py; a real subprocess where
the environment of a fresh interpreter is the point)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.cli_runner import Completed, run_musegen
from tests.midi_factory import scale_midi


def _run(*args: str, env: dict[str, str] | None = None) -> Completed | subprocess.CompletedProcess:
    if env is None:
        return run_musegen("ingest", *args)
    return subprocess.run(
        [sys.executable, "-m", "musegen", "ingest", *args], capture_output=True, text=True, timeout=120, env=env
    )


def test_ingest_json_reports_files_and_stats(tmp_path):
    (tmp_path / "a.mid").write_bytes(scale_midi())
    (tmp_path / "b.mid").write_bytes(b"not midi")
    proc = _run(str(tmp_path), "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["ok"] == 1 and out["skipped"] == 1
    assert out["stats"]["notes"] == 8 and out["stats"]["pitch_range"] == [60, 72]
    assert "not a MIDI file" in next(r for r in out["results"] if not r["ok"])["reason"]


def test_json_output_stays_one_object_when_ci_is_set(tmp_path):
    # pyfluidsynth prints "'fluidsynth' was found at ..." on stdout on import when CI is set
    (tmp_path / "a.mid").write_bytes(scale_midi())
    proc = _run(str(tmp_path), "--json", env={**os.environ, "CI": "true"})
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["ok"] == 1


@pytest.mark.slow
def test_ingest_builtin_summary():
    proc = _run("--repr", "classic")
    assert proc.returncode == 0, proc.stderr
    assert "371 usable, 0 skipped" in proc.stdout and "classic events" in proc.stdout


def test_ingest_nothing_usable_exits_nonzero_with_message(tmp_path):
    (tmp_path / "x.mid").write_bytes(b"")
    proc = _run(str(tmp_path / "x.mid"))
    assert proc.returncode == 2
    assert "No usable MIDI file" in proc.stderr and "empty file" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_ingest_reports_grid_fit_advises_on_played_files_and_takes_no_pedal(tmp_path):
    from tests.sources.test_pedal import _pedal_file
    from tests.sources.test_tempo_and_grid import jittered_midi

    (tmp_path / "played.mid").write_bytes(jittered_midi())
    (tmp_path / "pedal.mid").write_bytes(_pedal_file())
    proc = _run(str(tmp_path / "played.mid"))
    assert proc.returncode == 0, proc.stderr
    assert "played.mid: 64 notes, grid fit 0." in proc.stdout and "; grid fit 0." in proc.stdout
    assert "These files look played rather than written:" in proc.stdout
    held = json.loads(_run(str(tmp_path / "pedal.mid"), "--json").stdout)
    dry = json.loads(_run(str(tmp_path / "pedal.mid"), "--json", "--no-pedal").stdout)
    assert held["grid_fit"] == 1.0 and not held["looks_unquantized"] and held["results"][0]["grid_fit"] == 1.0
    assert dry["stats"]["duration_histogram"] == {"0.5": 4}  # as played; the pedal holds them longer
    assert held["stats"]["duration_histogram"] != dry["stats"]["duration_histogram"]
