"""Audio: MIDI to a 44.1 kHz, 16-bit stereo WAV with FluidSynth, and a plain fallback.

FluidSynth is the system library (``libfluidsynth3`` / Homebrew ``fluid-synth``) driven
through the PyPI binding ``pyfluidsynth``, which imports as ``fluidsynth``. The binding is
imported lazily and guarded like pretty_midi does, so a machine without the library still
imports this module; :func:`render` then falls back to an additive sine synthesis and says
so in :attr:`RenderResult.message` and :attr:`RenderResult.engine`.

Rendering uses our own synthesizer calls, not pretty_midi's ``fluidsynth()`` (mono, one
instrument at a time): one MIDI channel per instrument with its program, note and
controller events scheduled at their sample positions, float samples pulled in blocks
(``fluid_synth_write_float``: the int16 ``get_samples`` would clip before we normalize),
a release/reverb tail, then peak normalization to -1 dBFS.

Each render builds a fresh ``Synth``: a reused one keeps reverb residue from the previous
piece. SoundFont sample data is still loaded once per process, because FluidSynth's
sample cache shares it between synths and this module keeps one idle "keeper" synth per
SoundFont path alive (:data:`_KEEPERS`). SoundFont discovery and the safety check live in
:mod:`musegen.output.soundfonts` and are re-exported here.
"""

from __future__ import annotations

import io
import math
import os
import threading
import time
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pretty_midi

from musegen.config import clamp_tempo
from musegen.errors import AudioError, ConfigError, FluidSynthMissingError, SoundFontError
from musegen.notes import Piece
from musegen.output import synth_log
from musegen.output.soundfonts import ENV_SOUNDFONT, bundled_soundfont, check_soundfont, find_soundfont
from musegen.slots import AUDIO

__all__ = [
    "ENV_SOUNDFONT",
    "INSTALL_HINT",
    "RenderResult",
    "bundled_soundfont",
    "check_soundfont",
    "find_soundfont",
    "fluidsynth_status",
    "fluidsynth_version",
    "render",
    "render_wav",
    "wav_bytes",
]

INSTALL_HINT = (
    "Install the FluidSynth library with `sudo apt-get install libfluidsynth3` (Debian/Ubuntu) "
    "or `brew install fluid-synth` (macOS), and its Python binding with `pip install pyfluidsynth`."
)
PEAK = 10 ** (-1 / 20)  # normalize to -1 dBFS: loud, never clipping
SILENCE = 1e-5  # peak below this (-100 dBFS) is not amplified
BLOCK = 4096  # frames per write call (and between timeout checks)


@dataclass(frozen=True)
class RenderResult:
    """A rendered WAV and how it was made (for the UI to play and to label)."""

    wav: bytes  # a complete RIFF/WAVE file: 16-bit PCM, 2 channels
    engine: str  # "fluidsynth" or "fallback" (plain sine synthesis: FluidSynth missing)
    message: str  # one human sentence: what rendered it, or why the fallback was used
    seconds: float  # audio length, tail included
    sample_rate: int
    soundfont: str | None  # path of the SoundFont used (None for the fallback)
    render_seconds: float  # wall time spent synthesizing
    warnings: str = ""  # FluidSynth's own messages during this render, in one line ("" when none)


# --- the binding -----------------------------------------------------------------------

POLYPHONY = 256  # FluidSynth's default synth.polyphony: voices sounding at once
_binding_lock = threading.Lock()
_binding_state: dict[str, Any] = {}


def _binding() -> Any:
    """The pyfluidsynth module; FluidSynthMissingError naming the fix when unusable."""
    with _binding_lock:
        if "module" not in _binding_state and "error" not in _binding_state:
            try:
                import fluidsynth  # optional dependency, guarded
            except (ImportError, OSError) as exc:
                _binding_state["error"] = f"FluidSynth is not available ({exc}). {INSTALL_HINT}"
            else:
                if hasattr(fluidsynth, "Synth"):
                    synth_log.quiet(fluidsynth)
                    _binding_state["module"] = fluidsynth
                else:
                    _binding_state["error"] = (
                        "The module `fluidsynth` is the unrelated PyPI package of that name, not pyfluidsynth. "
                        "Run `pip uninstall fluidsynth && pip install pyfluidsynth`."
                    )
        if "error" in _binding_state:
            raise FluidSynthMissingError(_binding_state["error"])
        return _binding_state["module"]


def _write_float(fs: Any) -> Any:
    """``fluid_synth_write_float`` as a ctypes function (declared once)."""
    if "write_float" not in _binding_state:
        from ctypes import c_int, c_void_p

        arg = ("synth", c_void_p, 1), ("len", c_int, 1)
        buf = (("lout", c_void_p, 1), ("loff", c_int, 1), ("lincr", c_int, 1))
        rbuf = (("rout", c_void_p, 1), ("roff", c_int, 1), ("rincr", c_int, 1))
        func = fs.cfunc("fluid_synth_write_float", c_int, *arg, *buf, *rbuf)
        if func is None:
            raise FluidSynthMissingError(f"This FluidSynth library lacks fluid_synth_write_float. {INSTALL_HINT}")
        _binding_state["write_float"] = func
    return _binding_state["write_float"]


def fluidsynth_version() -> str:
    """The FluidSynth library version, e.g. ``"2.3.1"`` (FluidSynthMissingError if absent)."""
    from ctypes import byref, c_int

    fs = _binding()
    major, minor, micro = c_int(), c_int(), c_int()
    fs._fl.fluid_version(byref(major), byref(minor), byref(micro))
    return f"{major.value}.{minor.value}.{micro.value}"


_keepers_lock = threading.Lock()
_KEEPERS: dict[str, Any] = {}  # SoundFont path -> an idle Synth that keeps the font's samples cached


def _keep_loaded(fs: Any, path: Path, sample_rate: int) -> None:
    key = str(path.resolve())
    with _keepers_lock:
        if key in _KEEPERS:
            return
        keeper = fs.Synth(samplerate=float(sample_rate))
        if keeper.sfload(str(path)) < 0:
            keeper.delete()
            raise SoundFontError(f"FluidSynth cannot load the SoundFont {path}: the file is damaged.")
        _KEEPERS[key] = keeper


# --- rendering --------------------------------------------------------------------------


def _as_midi(music: pretty_midi.PrettyMIDI | Piece | bytes) -> pretty_midi.PrettyMIDI:
    if isinstance(music, pretty_midi.PrettyMIDI):
        return music
    if isinstance(music, bytes):  # a MIDI file musegen wrote (a download's own bytes: its tempo map and all)
        try:
            return pretty_midi.PrettyMIDI(io.BytesIO(music))
        except Exception as exc:
            raise AudioError(f"the MIDI file to render cannot be read ({exc}); generate it again.") from exc
    if isinstance(music, Piece):
        from musegen.output.midi import piece_to_midi

        tempo = clamp_tempo(music.tempo or 120.0)
        return piece_to_midi(music, tempo=tempo)
    raise AudioError(f"render() takes a pretty_midi.PrettyMIDI, a Piece or MIDI bytes, not {type(music).__name__}.")


def _channels(n: int) -> list[int]:
    """Channels for ``n`` melodic instruments, skipping the drum channel 9 of each group of 16."""
    pool = [c for c in range(256) if c % 16 != 9]
    return [pool[i % len(pool)] for i in range(n)]


def _schedule(pm: pretty_midi.PrettyMIDI, sr: int) -> tuple[list[tuple[int, int, int, int, int]], list]:
    """Events (sample, kind, channel, a, b) sorted; kind 0 = control, 1 = note off, 2 = note on."""
    melodic = [inst for inst in pm.instruments if not inst.is_drum]
    chan_of = dict(zip(map(id, melodic), _channels(len(melodic)), strict=True))
    programs, events = [], []
    for inst in pm.instruments:
        ch = 9 if inst.is_drum else chan_of[id(inst)]
        programs.append((ch, 128 if inst.is_drum else 0, int(inst.program)))
        for cc in inst.control_changes:
            events.append((round(cc.time * sr), 0, ch, int(cc.number), int(cc.value)))
        for pb in inst.pitch_bends:
            events.append((round(pb.time * sr), 0, ch, -1, int(pb.pitch)))
        for note in inst.notes:
            events.append((round(note.start * sr), 2, ch, int(note.pitch), int(note.velocity)))
            events.append((round(max(note.end, note.start) * sr), 1, ch, int(note.pitch), 0))
    events.sort()
    return events, programs


def _render_fluidsynth(
    fs: Any, pm: pretty_midi.PrettyMIDI, path: Path, sr: int, reverb: bool, chorus: bool, tail_s: float, deadline: float
) -> np.ndarray:
    events, programs = _schedule(pm, sr)
    total = (events[-1][0] if events else 0) + round(tail_s * sr)
    audio = np.zeros((total, 2), dtype=np.float32)
    write = _write_float(fs)
    settings = {"synth.reverb.active": int(reverb), "synth.chorus.active": int(chorus)}
    synth = fs.Synth(gain=0.5, samplerate=float(sr), **settings)
    try:
        sfid = synth.sfload(str(path))
        if sfid < 0:
            raise SoundFontError(f"FluidSynth cannot load the SoundFont {path}: the file is damaged.")
        for ch, bank, program in programs:
            if synth.program_select(ch, sfid, bank, program) < 0 and synth.program_select(ch, sfid, bank, 0) < 0:
                synth.program_select(ch, sfid, 0, 0)  # a font without drums plays them on its first preset

        def fill(a: int, b: int) -> None:
            for pos in range(a, b, BLOCK):
                n = min(BLOCK, b - pos)
                ptr = audio.ctypes.data + pos * audio.strides[0]
                write(synth.synth, n, ptr, 0, 2, ptr, 1, 2)
                if time.monotonic() > deadline:
                    raise AudioError("Rendering took longer than timeout_s; try a shorter piece or raise it.")

        pos = 0
        for sample, kind, ch, a, b in events:
            if sample > pos:
                fill(pos, sample)
                pos = sample
            if kind == 2:
                synth.noteon(ch, a, b)
            elif kind == 1:
                synth.noteoff(ch, a)
            elif a < 0:
                synth.pitch_bend(ch, b)
            else:
                synth.cc(ch, a, b)
        fill(pos, total)
    finally:
        synth.delete()
    return audio


def _render_fallback(pm: pretty_midi.PrettyMIDI, sr: int, tail_s: float) -> np.ndarray:
    """Plain additive synthesis: three sine partials, a piano-like decay, pitch panning."""
    total = round((pm.get_end_time() + tail_s) * sr)
    audio = np.zeros((total, 2), dtype=np.float32)
    release = 0.08
    for inst in pm.instruments:
        if inst.is_drum:
            continue  # the fallback has no drum sounds
        for note in inst.notes:
            dur = max(note.end - note.start, 0.01)
            start = round(note.start * sr)
            n = min(round((dur + release) * sr), total - start)
            if n <= 0:
                continue
            t = np.arange(n, dtype=np.float32) / sr
            freq = 440.0 * 2.0 ** ((note.pitch - 69) / 12)
            partials = [(k, amp) for k, amp in ((1, 1.0), (2, 0.4), (3, 0.15)) if k * freq < sr / 2]
            tone = sum(amp * np.sin(2 * np.pi * k * freq * t) for k, amp in partials)
            env = np.minimum(t / 0.005, 1.0) * np.exp(-1.5 * t) * np.clip((dur + release - t) / release, 0.0, 1.0)
            signal = (note.velocity / 127.0) * tone * env
            pan = np.clip((note.pitch - 21) / 87.0, 0.0, 1.0) * 0.6 + 0.2
            audio[start : start + n, 0] += signal * math.cos(pan * math.pi / 2)
            audio[start : start + n, 1] += signal * math.sin(pan * math.pi / 2)
    return audio


def wav_bytes(audio: np.ndarray, sample_rate: int) -> bytes:
    """A 16-bit stereo WAV of float ``audio`` (frames, 2), peak-normalized to -1 dBFS."""
    peak = float(np.abs(audio).max()) if audio.size else 0.0
    # Below -100 dBFS is silence (FluidSynth's reverb adds ~1e-8 anti-denormal noise): keep it silent.
    scaled = audio * (PEAK / peak) if peak > SILENCE else audio
    pcm = np.clip(np.round(scaled * 32767.0), -32768, 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes(pcm.tobytes())
    return buf.getvalue()


def render(
    music: pretty_midi.PrettyMIDI | Piece | bytes,
    *,
    soundfont: str | os.PathLike | None = None,
    sample_rate: int = 44100,
    reverb: bool = True,
    chorus: bool = True,
    tail_s: float = 1.5,
    timeout_s: float = 120.0,
    max_seconds: float = 900.0,
    fallback: bool = True,
) -> RenderResult:
    """Render ``music`` to a stereo WAV with FluidSynth (or the fallback).

    ``tail_s`` seconds follow the last event so releases and reverb ring out. Without the
    FluidSynth library, ``fallback=True`` returns the sine synthesis (engine "fallback",
    the install command in ``message``); ``fallback=False`` raises FluidSynthMissingError.
    SoundFont problems always raise SoundFontError. Music longer than ``max_seconds`` or a
    render slower than ``timeout_s`` raises AudioError. At most ``musegen.slots.AUDIO.size``
    FluidSynth renders run at once in a process; the others wait their turn.
    """
    if not (8000 <= int(sample_rate) <= 192000):
        raise ConfigError(f"sample_rate must be 8000-192000 Hz, got {sample_rate}.")
    if not (0.0 <= tail_s <= 30.0) or timeout_s <= 0:
        raise ConfigError("tail_s must be 0-30 seconds and timeout_s positive.")
    sr = int(sample_rate)
    pm = _as_midi(music)
    end = pm.get_end_time()
    if end > max_seconds:
        raise AudioError(f"The music lasts {end:.0f} s, over the {max_seconds:.0f} s limit; raise max_seconds.")
    started = time.monotonic()
    try:
        fs = _binding()
    except FluidSynthMissingError as exc:
        if not fallback:
            raise
        audio, said = _render_fallback(pm, sr, tail_s), ""
        engine, font, message = "fallback", None, f"{exc} Played with the plain sine-wave fallback instead."
    else:
        path = find_soundfont(soundfont)
        check_soundfont(path)
        _keep_loaded(fs, path, sr)
        with AUDIO.held(), synth_log.collecting() as logged:  # renders of many sessions queue for the cores
            started = time.monotonic()  # the wait for a slot counts neither against timeout_s nor as rendering
            audio = _render_fluidsynth(fs, pm, path, sr, reverb, chorus, tail_s, started + timeout_s)
        said = synth_log.summary(logged, POLYPHONY)
        engine, font, message = "fluidsynth", str(path), f"Rendered by FluidSynth with {path.name}. {said}".strip()
    return RenderResult(
        wav=wav_bytes(audio, sr),
        engine=engine,
        message=message,
        seconds=len(audio) / sr,
        sample_rate=sr,
        soundfont=font,
        render_seconds=time.monotonic() - started,
        warnings=said if engine == "fluidsynth" else "",
    )


def render_wav(music: pretty_midi.PrettyMIDI | Piece, **kwargs: Any) -> bytes:
    """The WAV bytes of :func:`render` (same keyword arguments)."""
    return render(music, **kwargs).wav


def fluidsynth_status(soundfont: str | os.PathLike | None = None) -> tuple[bool, str]:
    """(available, message) for a home page: can FluidSynth render, and with which font."""
    try:
        version = fluidsynth_version()
    except FluidSynthMissingError as exc:
        return False, str(exc)
    try:
        path = find_soundfont(soundfont)
    except SoundFontError as exc:
        return False, f"FluidSynth {version} is installed, but: {exc}"
    return True, f"FluidSynth {version} with the SoundFont {path.name} ({path.parent})."
