"""Render speed: FluidSynth real-time factor (audio seconds per second of work) on 60 s of Bach.

The piece is real music: built-in chorales played one after another at 120 BPM, cut at
exactly 60 seconds (four voices). Measured in one run: the first render (SoundFont load
included), warm renders with and without effects, the sine fallback, and for reference
pretty_midi's own mono ``fluidsynth()``. Goal: at least 50x real time.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

SECONDS = 60.0
TEMPO = 120.0
REPEATS = 3


def sixty_seconds_of_bach():
    from musegen.notes import END, START, Piece, make_notes
    from musegen.sources.corpus import load_builtin_corpus

    beats = SECONDS * TEMPO / 60.0
    rows, offset = [], 0.0
    for piece in load_builtin_corpus(limit=20):
        notes = piece.notes.copy()
        notes[:, [START, END]] += offset
        rows.append(notes)
        offset = float(notes[:, END].max())
        if offset >= beats:
            break
    notes = np.concatenate(rows)
    notes = notes[notes[:, START] < beats]
    notes[:, END] = np.minimum(notes[:, END], beats)
    return Piece("bach-60s", make_notes(notes), TEMPO)


def _timed(fn, repeats: int = REPEATS) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> list[dict]:
    from musegen.output import audio
    from musegen.output.midi import piece_to_midi

    piece = sixty_seconds_of_bach()
    pm = piece_to_midi(piece, tempo=TEMPO)
    audio_s = pm.get_end_time() + 1.5  # the music and the default release tail

    t0 = time.perf_counter()
    first = audio.render(pm)
    t_first = time.perf_counter() - t0
    t_warm, result = _timed(lambda: audio.render(pm))
    t_dry, _ = _timed(lambda: audio.render(pm, reverb=False, chorus=False))
    t_fallback, _ = _timed(lambda: audio._render_fallback(pm, 44100, 1.5), repeats=1)
    font = str(audio.find_soundfont())
    t_pm, _ = _timed(lambda: pm.fluidsynth(fs=44100, sf2_path=font), repeats=1)

    rows = [
        {"renderer": "musegen FluidSynth, first call (SoundFont load)", "seconds": t_first},
        {"renderer": "musegen FluidSynth, stereo + reverb + chorus", "seconds": t_warm},
        {"renderer": "musegen FluidSynth, effects off", "seconds": t_dry},
        {"renderer": "musegen sine fallback (no FluidSynth)", "seconds": t_fallback},
        {"renderer": "pretty_midi.fluidsynth() (mono, reference)", "seconds": t_pm},
    ]
    print(f"{piece.n_notes} notes, {pm.get_end_time():.1f} s of music, {audio_s:.1f} s of audio, SoundFont {font}\n")
    print("| renderer | seconds | real-time factor |\n|---|---:|---:|")
    for r in rows:
        r["realtime_factor"] = audio_s / r["seconds"]
        print(f"| {r['renderer']} | {r['seconds']:.3f} | {r['realtime_factor']:.0f}x |")
    assert first.engine == result.engine == "fluidsynth"
    print(f"\nFluidSynth real-time factor: {audio_s / t_warm:.0f}x (goal >= 50x)")
    return rows


if __name__ == "__main__":
    main()
