"""Hardening, third round (issue 34, point 2): FluidSynth's own log stays quiet; a render reports what
matters in one line (the issue: 65,535 one-note tracks printed about 98,700 FluidSynth warnings)."""

from __future__ import annotations

import struct

from tests.cli_runner import run_musegen

TRACK = b"\x00\x90\x3c\x50\x60\x80\x3c\x00\x00\xff\x2f\x00"  # one quarter-ish note, then the end of the track


def _one_note_tracks(n: int) -> bytes:
    body = b"".join(b"MTrk" + struct.pack(">I", len(TRACK)) + TRACK for _ in range(n))
    return b"MThd" + struct.pack(">IHHH", 6, 1, n, 480) + body


def test_many_one_note_tracks_render_with_one_warning_line(tmp_path, capfd):
    """1,000 notes at once: more than FluidSynth's 256 voices, so it would warn for each one dropped."""
    (tmp_path / "tracks.mid").write_bytes(_one_note_tracks(1000))
    proc = run_musegen("render", str(tmp_path / "tracks.mid"), "--out", str(tmp_path / "tracks.wav"))
    native = capfd.readouterr()  # what FluidSynth itself would print goes to the real file descriptors
    assert proc.returncode == 0, proc.stderr
    assert "fluidsynth:" not in native.err + native.out
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith("warning: FluidSynth logged ") and "256 voices" in lines[0]
    assert lines[0].endswith("dropped.")
    assert (tmp_path / "tracks.wav").stat().st_size > 44


def test_a_plain_piece_renders_without_warnings(tmp_path):
    (tmp_path / "one.mid").write_bytes(_one_note_tracks(1))
    proc = run_musegen("render", str(tmp_path / "one.mid"), "--out", str(tmp_path / "one.wav"), "--json")
    assert proc.returncode == 0 and proc.stderr == ""
    assert '"warnings": ""' in proc.stdout
