"""``python -m musegen render`` as a user runs it (tests/cli_runner.py), real FluidSynth."""

from __future__ import annotations

import json
import wave

import pretty_midi

from musegen.output.midi import piece_to_midi, write_midi
from tests.cli_runner import Completed, run_musegen
from tests.midi_factory import scale_midi


def _run(*args: str) -> Completed:
    return run_musegen("render", *args)


def _wav_params(path) -> wave._wave_params:
    with wave.open(str(path)) as w:
        return w.getparams()


def test_render_json_writes_a_stereo_wav(tmp_path):
    src = tmp_path / "scale.mid"
    src.write_bytes(scale_midi())  # 8 eighth notes at 120 BPM = 2 s
    out = tmp_path / "audio" / "scale.wav"
    proc = _run(str(src), "--out", str(out), "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["ok"] is True and report["engine"] == "fluidsynth" and report["out"] == str(out)
    assert report["channels"] == 2 and report["sample_rate"] == 44100
    assert report["seconds"] == 3.5  # 2 s of music and the 1.5 s tail
    params = _wav_params(out)
    assert (params.framerate, params.nchannels, params.sampwidth, params.nframes) == (44100, 2, 2, 3.5 * 44100)


def test_render_summary_default_output_and_no_reverb(tmp_path, chorales):
    src = write_midi(piece_to_midi(chorales[2], tempo=100.0), tmp_path / "chorale.mid")
    proc = _run(str(src), "--no-reverb", "--no-chorus")
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "chorale.wav"
    assert f"wrote {out}" in proc.stdout and "fluidsynth" in proc.stdout and "SoundFont:" in proc.stdout
    music_s = pretty_midi.PrettyMIDI(str(src)).get_end_time()
    assert abs(_wav_params(out).nframes / 44100 - (music_s + 1.5)) < 0.01


def test_render_with_a_missing_soundfont_fails_clearly(tmp_path):
    src = tmp_path / "scale.mid"
    src.write_bytes(scale_midi())
    proc = _run(str(src), "--soundfont", str(tmp_path / "missing.sf2"))
    assert proc.returncode == 2
    assert "error: SoundFont not found" in proc.stderr and "missing.sf2" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "scale.wav").exists()


def test_render_rejects_a_file_that_is_not_midi(tmp_path):
    src = tmp_path / "notes.mid"
    src.write_text("these are not notes")
    proc = _run(str(src), "--json")
    assert proc.returncode == 2
    assert json.loads(proc.stdout)["kind"] == "MidiReadError"
    assert "not a MIDI file" in proc.stderr and "Traceback" not in proc.stderr
    missing = _run(str(tmp_path / "nowhere.mid"))
    assert missing.returncode == 2 and "cannot read the file" in missing.stderr
