"""Dynamic range of audio: synthetic tones with known levels, and real FluidSynth renderings."""

from __future__ import annotations

import io
import math
import wave

import numpy as np
import pytest

from musegen.errors import AudioError
from musegen.metrics.dynamics import dynamic_range, loudness, read_wav
from musegen.notes import Piece, make_notes
from musegen.output.audio import render

SR = 8000


def tone(amplitudes: list[float], seconds: float = 1.0, freq: float = 440.0) -> np.ndarray:
    """A sine whose amplitude steps through ``amplitudes``, ``seconds`` each (mono float)."""
    t = np.arange(round(seconds * SR)) / SR
    return np.concatenate([a * np.sin(2 * np.pi * freq * t) for a in amplitudes])


def wav(samples: np.ndarray, width: int = 2, channels: int = 1) -> bytes:
    scale = float(1 << (8 * width - 1)) - 1
    ints = np.round(np.repeat(samples[:, None], channels, axis=1) * scale).astype("<i4")
    raw = ints.tobytes() if width == 4 else ints.astype("<i2").tobytes()
    if width == 3:  # the low three bytes of each little-endian int32
        raw = ints.view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(SR)
        w.writeframes(raw)
    return buf.getvalue()


def test_a_tone_stepping_by_ten_has_twenty_decibels_of_range():
    signal = tone([0.5, 0.05])  # a factor of 10 in amplitude: 20 dB
    result = dynamic_range(signal, SR)
    assert result.range_db == pytest.approx(20.0, abs=0.5)
    assert result.high_db == pytest.approx(20 * math.log10(0.5 / math.sqrt(2)), abs=0.2)  # RMS of a sine
    assert result.windows == result.loud_windows == 40 and result.seconds == pytest.approx(2.0)
    assert len(result.times) == len(result.levels_db) == 40 and result.times[0] == pytest.approx(0.025)


def test_wav_bytes_int16_and_float_agree():
    signal = tone([0.8, 0.2, 0.8])  # a factor of 4: 12.04 dB
    expected = 20 * math.log10(4)
    from_float = dynamic_range(signal, SR).range_db
    from_int16 = dynamic_range(np.round(signal * 32767).astype(np.int16), SR).range_db
    from_wav = dynamic_range(wav(signal, channels=2)).range_db
    from_wav24 = dynamic_range(wav(signal, width=3)).range_db
    for value in (from_float, from_int16, from_wav, from_wav24):
        assert value == pytest.approx(expected, abs=0.5)
    samples, rate = read_wav(wav(signal, channels=2))
    assert rate == SR and samples.shape == (len(signal), 2)
    np.testing.assert_allclose(samples[:, 0], signal, atol=1e-4)


def test_silence_below_the_floor_does_not_count():
    signal = np.concatenate([tone([0.5, 0.05]), np.zeros(SR), 1e-5 * tone([1.0])])  # a rest, then -100 dBFS hiss
    result = dynamic_range(signal, SR)
    assert result.range_db == pytest.approx(20.0, abs=0.5)
    assert result.loud_windows == 40 and result.windows == 80
    assert min(result.levels_db) == result.floor_db  # silent windows drawn at the floor
    t, db = loudness(signal, SR)
    assert len(t) == 80 and np.isneginf(db[45])


def test_silence_and_bad_input_give_clear_answers():
    silent = dynamic_range(np.zeros(SR), SR)
    assert silent.range_db == 0.0 and silent.loud_windows == 0
    assert dynamic_range(np.zeros(10), SR).windows == 0  # shorter than one window
    with pytest.raises(AudioError, match="WAV"):
        dynamic_range(b"not a wav file at all")
    with pytest.raises(AudioError, match="sample_rate"):
        dynamic_range(np.zeros(100))
    with pytest.raises(AudioError, match="percentiles"):
        dynamic_range(np.zeros(SR), SR, percentiles=(90, 10))


def scale_at(velocities: list[int]) -> Piece:
    """Eight bars of a C major chord pattern, bar k at ``velocities[k % len]``."""
    rows = []
    for bar in range(8):
        v = velocities[bar % len(velocities)]
        for beat in range(4):
            t = bar * 4 + beat
            rows += [(t, t + 1, p, v) for p in (48, 60, 64, 67)]
    return Piece("dynamics", make_notes(rows), tempo=120.0)


def test_fluidsynth_rendering_of_soft_and_loud_bars_has_more_range():
    varied = render(scale_at([30, 110]), fallback=False, reverb=False, chorus=False, tail_s=0.0)
    flat = render(scale_at([80]), fallback=False, reverb=False, chorus=False, tail_s=0.0)
    assert varied.engine == flat.engine == "fluidsynth"
    wide, narrow = dynamic_range(varied.wav), dynamic_range(flat.wav)
    assert wide.range_db > narrow.range_db + 10.0, (wide.range_db, narrow.range_db)
    assert wide.seconds == pytest.approx(16.0, abs=0.1)
