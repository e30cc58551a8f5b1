"""FluidSynth rendering for real: WAV format, length, loudness, SoundFonts, the missing library."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pretty_midi
import pytest

from musegen.errors import AudioError, SoundFontError
from musegen.notes import Piece, make_notes
from musegen.output import soundfonts
from musegen.output.audio import PEAK, find_soundfont, fluidsynth_status, render, render_wav

SR = 44100
REPO = Path(__file__).resolve().parents[2]
SCALE = Piece(
    "scale", make_notes([(i * 0.5, (i + 1) * 0.5, p, 90) for i, p in enumerate([60, 62, 64, 65, 67, 69, 71, 72])])
)


def decode(wav_bytes: bytes) -> tuple[wave._wave_params, np.ndarray]:
    with wave.open(io.BytesIO(wav_bytes)) as w:
        params = w.getparams()
        frames = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, params.nchannels)
    return params, frames.astype(np.float64)


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x**2)))


def test_render_is_44k_16bit_stereo_normalized_and_as_long_as_the_music():
    result = render(SCALE)  # 4 beats at 120 BPM = 2 s, then the 1.5 s tail
    assert result.engine == "fluidsynth" and result.soundfont and "FluidSynth" in result.message
    params, frames = decode(result.wav)
    assert (params.framerate, params.nchannels, params.sampwidth) == (44100, 2, 2)
    assert len(frames) == round(2.0 * SR) + round(1.5 * SR)
    assert result.seconds == pytest.approx(3.5)
    peak = np.abs(frames).max()
    assert peak == pytest.approx(PEAK * 32767, abs=1)  # peak-normalized to -1 dBFS ...
    assert peak < 32767  # ... so nothing clips
    assert rms(frames[: 2 * SR]) > 1000  # clearly audible, not silence
    assert np.any(frames[:, 0] != frames[:, 1])  # really stereo


def test_notes_start_at_their_sample_position():
    pm = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(program=0)
    inst.notes.append(pretty_midi.Note(velocity=100, pitch=60, start=1.0, end=1.5))
    pm.instruments.append(inst)
    _, frames = decode(render_wav(pm, tail_s=0.5))
    first = int(np.argmax(np.abs(frames).sum(axis=1) > 0))
    assert SR <= first < SR + 256  # silent for exactly one second, then the note
    assert len(frames) == 2 * SR


def test_reverb_can_be_switched_off():
    _, wet = decode(render_wav(SCALE))
    _, dry = decode(render_wav(SCALE, reverb=False, chorus=False))
    assert len(wet) == len(dry)
    # After the last release has died away only the reverb tail is left.
    tail = slice(int(2.6 * SR), None)
    assert rms(wet[tail]) > 3 * rms(dry[tail])
    assert rms(dry[: 2 * SR]) > 1000


def test_render_is_deterministic():
    assert render_wav(SCALE) == render_wav(SCALE)


def test_several_instruments_programs_and_drums():
    pm = pretty_midi.PrettyMIDI()
    for program in (0, 40):
        inst = pretty_midi.Instrument(program=program)
        inst.notes = [pretty_midi.Note(velocity=90, pitch=67, start=0.0, end=1.0)]
        pm.instruments.append(inst)
    drums = pretty_midi.Instrument(program=0, is_drum=True)
    drums.notes = [pretty_midi.Note(velocity=110, pitch=36, start=t, end=t + 0.1) for t in (0.0, 0.5)]
    pm.instruments.append(drums)
    _, frames = decode(render_wav(pm))
    assert rms(frames[:SR]) > 1000

    def solo(program: int) -> np.ndarray:
        one = pretty_midi.PrettyMIDI()
        inst = pretty_midi.Instrument(program=program)
        inst.notes = [pretty_midi.Note(velocity=90, pitch=67, start=0.0, end=1.0)]
        one.instruments.append(inst)
        return decode(render_wav(one, reverb=False, chorus=False))[1]

    piano, violin = solo(0), solo(40)
    assert not np.allclose(piano, violin, atol=500)  # the program change reaches the synthesizer


def test_empty_music_gives_a_valid_silent_wav():
    params, frames = decode(render_wav(Piece("nothing", make_notes([])), tail_s=0.25))
    assert (params.framerate, params.nchannels) == (SR, 2)
    assert len(frames) == round(0.25 * SR) and not frames.any()


def test_real_chorale_renders(chorales):
    piece = chorales[1]
    result = render(piece, reverb=False)
    _, frames = decode(result.wav)
    music_s = piece.length_beats * 60.0 / np.clip(piece.tempo, 20, 400)
    assert len(frames) / SR == pytest.approx(music_s + 1.5, abs=0.01)
    assert rms(frames) > 1000


def test_limits_raise_audio_error():
    with pytest.raises(AudioError, match="max_seconds"):
        render(Piece("long", make_notes([(0, 400, 60, 90)])), max_seconds=60)
    with pytest.raises(AudioError, match="timeout_s"):
        render(Piece("long", make_notes([(i, i + 1, 60, 90) for i in range(200)])), timeout_s=1e-9)


# --- SoundFonts -------------------------------------------------------------------------


def test_missing_soundfont_path_is_a_clear_error(tmp_path, monkeypatch):
    with pytest.raises(SoundFontError, match=r"not found.*nope\.sf2"):
        render(SCALE, soundfont=tmp_path / "nope.sf2")
    monkeypatch.setenv("MUSEGEN_SOUNDFONT", str(tmp_path / "gone.sf2"))
    with pytest.raises(SoundFontError, match="MUSEGEN_SOUNDFONT"):
        find_soundfont()


def test_random_bytes_are_not_a_soundfont(tmp_path):
    bad = tmp_path / "random.sf2"
    bad.write_bytes(np.random.default_rng(0).integers(0, 256, 20_000, dtype=np.uint8).tobytes())
    with pytest.raises(SoundFontError, match="not a SoundFont"):
        render(SCALE, soundfont=bad)


def test_damaged_soundfont_fails_to_load_with_a_message(tmp_path):
    bad = tmp_path / "damaged.sf2"  # a valid RIFF/sfbk header over garbage: sfload returns -1
    body = np.random.default_rng(1).integers(0, 256, 20_000, dtype=np.uint8).tobytes()
    bad.write_bytes(b"RIFF" + len(body).to_bytes(4, "little") + b"sfbk" + body)
    with pytest.raises(SoundFontError, match="damaged"):
        render(SCALE, soundfont=bad)


def test_soundfont_search_order(tmp_path, monkeypatch):
    monkeypatch.delenv("MUSEGEN_SOUNDFONT", raising=False)
    default = find_soundfont()
    assert default.is_file() and default.suffix == ".sf2"
    assets = tmp_path / "assets"
    assets.mkdir()
    shutil.copy(soundfonts.bundled_soundfont(), assets / "mine.sf2")
    monkeypatch.setattr(soundfonts, "ASSETS_SOUNDFONTS", assets)
    assert find_soundfont() == assets / "mine.sf2"  # assets/soundfonts comes before the system fonts
    other = tmp_path / "other.sf2"
    shutil.copy(soundfonts.bundled_soundfont(), other)
    monkeypatch.setenv("MUSEGEN_SOUNDFONT", str(other))
    assert find_soundfont() == other  # the environment variable before the folders
    assert find_soundfont(str(assets / "mine.sf2")) == assets / "mine.sf2"  # a given path first of all
    # A font outside the trusted folders is checked in a child process, then used.
    assert render(SCALE, soundfont=other).soundfont == str(other)


def test_bundled_pretty_midi_font_is_the_last_resort():
    font = soundfonts.bundled_soundfont()
    assert font.is_file() and font.name == "TimGM6mb.sf2"
    assert render(SCALE, soundfont=font).engine == "fluidsynth"


def test_status_reports_fluidsynth():
    ok, message = fluidsynth_status()
    assert ok, message
    assert message.startswith("FluidSynth ") and find_soundfont().name in message


# --- without the library ----------------------------------------------------------------

_NO_LIBRARY = """
import json, sys
sys.modules["fluidsynth"] = None  # the binding cannot be imported, as when libfluidsynth is missing
from musegen.output.audio import fluidsynth_status, render
from musegen.errors import FluidSynthMissingError
from musegen.notes import Piece, make_notes
piece = Piece("scale", make_notes([(i * 0.5, (i + 1) * 0.5, 60 + i, 90) for i in range(8)]))
out = {"status": fluidsynth_status()}
try:
    render(piece, fallback=False)
except FluidSynthMissingError as exc:
    out["error"] = str(exc)
result = render(piece)
open(sys.argv[1], "wb").write(result.wav)
out.update(engine=result.engine, message=result.message, seconds=result.seconds)
print(json.dumps(out))
"""


def test_missing_library_gives_install_command_and_fallback_audio(tmp_path):
    wav_path = tmp_path / "fallback.wav"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-c", _NO_LIBRARY, str(wav_path)], capture_output=True, text=True, env=env, check=True
    )
    out = json.loads(proc.stdout)
    assert out["status"][0] is False and "libfluidsynth3" in out["status"][1]
    assert "sudo apt-get install libfluidsynth3" in out["error"] and "brew install fluid-synth" in out["error"]
    assert out["engine"] == "fallback" and "fallback" in out["message"] and "libfluidsynth3" in out["message"]
    params, frames = decode(wav_path.read_bytes())
    assert (params.framerate, params.nchannels, params.sampwidth) == (44100, 2, 2)
    assert len(frames) == round(3.5 * SR) and out["seconds"] == pytest.approx(3.5)
    assert np.abs(frames).max() == pytest.approx(PEAK * 32767, abs=1)
    assert rms(frames[: 2 * SR]) > 1000


def test_each_notes_velocity_is_heard():
    """A Piece renders with its notes' own velocities (no fixed loudness): the loud note sounds louder."""
    piece = Piece("dyn", make_notes([(0, 1, 60, 25), (4, 5, 60, 120)]))  # 120 BPM: 0-0.5 s soft, 2-2.5 s loud
    _, frames = decode(render(piece, reverb=False, chorus=False, tail_s=0.5).wav)
    soft, loud = rms(frames[: SR // 2]), rms(frames[2 * SR : 2 * SR + SR // 2])
    assert soft > 50 and loud > 2 * soft
    flat = Piece("flat", make_notes([(0, 1, 60, 120), (4, 5, 60, 120)]))
    _, same = decode(render(flat, reverb=False, chorus=False, tail_s=0.5).wav)
    assert rms(same[: SR // 2]) == pytest.approx(rms(same[2 * SR : 2 * SR + SR // 2]), rel=0.1)


def test_a_midi_file_renders_with_its_tempo_map():
    """The Generate page plays the MIDI it offers: its bytes render as they are, tempo changes and all."""
    from musegen.output.midi import midi_bytes, notes_midi, piece_to_midi

    pm = piece_to_midi(SCALE, tempo=120.0, tempo_map=[(0.0, 120.0), (2.0, 60.0)])  # beats 2-4 at half speed
    result = render(midi_bytes(pm), reverb=False, chorus=False)
    assert result.engine == "fluidsynth" and result.seconds == pytest.approx(1.0 + 2.0 + 1.5)
    assert render(notes_midi(SCALE.notes, 240.0)).seconds == pytest.approx(1.0 + 1.5)
    with pytest.raises(AudioError, match="cannot be read"):
        render(b"MThd not really")
