"""Dynamic range of rendered audio: how much louder the loud passages are than the quiet ones.

The loudness curve is the RMS level of short windows (50 ms, not overlapping) in dBFS, the power
averaged over the channels (a full-scale sine reads -3 dBFS). Windows below a silence floor
(-70 dBFS: rests, the reverb's last tail) do not count; the dynamic range is the spread of the
rest, the 95th minus the 5th percentile in dB, so a single accent or one quiet release does not
decide it. A piece played at one velocity still has some range (chords against single notes, the
decay of a held note); the same piece played pp and ff has more. Peak normalization (the renderer's
-1 dBFS) shifts the whole curve and leaves the range unchanged.

Reads WAV bytes (PCM, 8 to 32 bits, with :mod:`wave`) or an array of samples (int16 or float in
[-1, 1], frames first) with numpy only.
"""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass, field

import numpy as np

from musegen.errors import AudioError

WINDOW_S = 0.05
FLOOR_DB = -70.0
PERCENTILES = (5.0, 95.0)


@dataclass
class DynamicRange:
    """The loudness of a recording over time and the spread of it."""

    range_db: float  # high_db - low_db; 0.0 when fewer than two windows are above the floor
    low_db: float  # the low percentile of the windows' levels above the floor (dBFS)
    high_db: float  # the high percentile
    median_db: float
    loud_windows: int  # windows above the floor (those the range is taken over)
    windows: int  # all windows
    window_s: float
    floor_db: float
    seconds: float  # length of the audio
    times: list[float] = field(default_factory=list, repr=False)  # centre of each window, in seconds
    levels_db: list[float] = field(default_factory=list, repr=False)  # each window's level (floor_db if below)

    def to_dict(self, curve: bool = False) -> dict:
        out = {k: v for k, v in self.__dict__.items() if k not in ("times", "levels_db")}
        if curve:
            out.update(times=self.times, levels_db=self.levels_db)
        return out


def read_wav(data: bytes) -> tuple[np.ndarray, int]:
    """(samples, sample rate) of a PCM WAV: float64 (frames, channels) in [-1, 1]."""
    try:
        with wave.open(io.BytesIO(bytes(data)), "rb") as wav:
            channels, width, rate = wav.getnchannels(), wav.getsampwidth(), wav.getframerate()
            raw = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError) as exc:
        raise AudioError(f"Not a PCM WAV file this reader knows ({exc}); give 8- to 32-bit PCM audio.") from None
    if width == 1:  # 8-bit WAV is unsigned
        samples = (np.frombuffer(raw, dtype=np.uint8).astype(np.float64) - 128.0) / 128.0
    elif width == 3:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        ints = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        samples = np.where(ints >= 1 << 23, ints - (1 << 24), ints) / float(1 << 23)
    elif width in (2, 4):
        samples = np.frombuffer(raw, dtype=f"<i{width}").astype(np.float64) / float(1 << (8 * width - 1))
    else:
        raise AudioError(f"WAV samples of {width} bytes are not supported; give 8- to 32-bit PCM audio.")
    frames = len(samples) // channels
    return samples[: frames * channels].reshape(frames, channels), rate


def _as_samples(audio: bytes | np.ndarray, sample_rate: int | None) -> tuple[np.ndarray, int]:
    if isinstance(audio, bytes | bytearray | memoryview):
        return read_wav(bytes(audio))
    if sample_rate is None or sample_rate <= 0:
        raise AudioError("An array of samples needs its sample_rate (e.g. 44100).")
    a = np.asarray(audio)
    if a.dtype.kind == "i":  # int16 full scale is 32768, and so on
        a = a.astype(np.float64) / float(np.iinfo(a.dtype).max + 1)
    elif a.dtype.kind == "u":  # unsigned: silence at the middle
        half = (float(np.iinfo(a.dtype).max) + 1) / 2
        a = (a.astype(np.float64) - half) / half
    elif a.dtype.kind == "f":
        a = a.astype(np.float64)
    else:
        raise AudioError(f"Audio samples must be integers or floats, not {a.dtype}.")
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise AudioError(f"Audio samples must be (frames,) or (frames, channels), got shape {a.shape}.")
    return a, int(sample_rate)


def loudness(
    audio: bytes | np.ndarray, sample_rate: int | None = None, *, window_s: float = WINDOW_S
) -> tuple[np.ndarray, np.ndarray]:
    """(window centres in seconds, RMS level of each window in dBFS; -inf for digital silence)."""
    samples, rate = _as_samples(audio, sample_rate)
    return _loudness(samples, rate, window_s)


def _loudness(samples: np.ndarray, rate: int, window_s: float) -> tuple[np.ndarray, np.ndarray]:
    if not window_s > 0:
        raise AudioError(f"window_s must be positive, got {window_s}.")
    n = max(1, round(window_s * rate))
    count = len(samples) // n
    if not count:
        return np.zeros(0), np.zeros(0)
    power = (samples[: count * n] ** 2).mean(axis=1).reshape(count, n).mean(axis=1)
    with np.errstate(divide="ignore"):
        db = 10.0 * np.log10(power)
    return (np.arange(count) + 0.5) * n / rate, db


def dynamic_range(
    audio: bytes | np.ndarray,
    sample_rate: int | None = None,
    *,
    window_s: float = WINDOW_S,
    floor_db: float = FLOOR_DB,
    percentiles: tuple[float, float] = PERCENTILES,
) -> DynamicRange:
    """The dynamic range of ``audio`` (WAV bytes, or samples with their ``sample_rate``): the spread
    between the ``percentiles`` of the short-window levels above ``floor_db``, in dB."""
    low_p, high_p = percentiles
    if not 0 <= low_p < high_p <= 100:
        raise AudioError(f"percentiles must be two numbers 0 <= low < high <= 100, got {percentiles}.")
    samples, rate = _as_samples(audio, sample_rate)
    times, db = _loudness(samples, rate, window_s)
    loud = db[db > floor_db]
    if len(loud) >= 2:
        low, high, median = (float(x) for x in np.percentile(loud, [low_p, high_p, 50.0]))
    elif len(loud) == 1:
        low = high = median = float(loud[0])
    else:
        low = high = median = float(floor_db)
    return DynamicRange(
        range_db=high - low,
        low_db=low,
        high_db=high,
        median_db=median,
        loud_windows=len(loud),
        windows=len(db),
        window_s=float(window_s),
        floor_db=float(floor_db),
        seconds=len(samples) / rate,
        times=times.tolist(),
        levels_db=np.maximum(db, floor_db).tolist(),
    )
