"""From "Generate" to playable audio: a 30-second piece with a bundled demo model, as the app does it.

Runs the Generate page's library path in one process (``Composer`` -> ``compose`` -> MIDI ->
FluidSynth WAV) with streamlit imported as in the app: cold (first click: model load, step
compilation, SoundFont load) and warm (the model is cached with ``st.cache_resource`` after the
first click). Reports the peak resident memory of the process with the model loaded.
"""

from __future__ import annotations

import resource
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SECONDS, TEMPO = 30.0, 100.0


def _one(composer, seed_index: int) -> tuple[float, float, float]:
    from musegen.config import SamplingConfig
    from musegen.output.audio import render

    t0 = time.perf_counter()
    seed = composer.seed_from_piece(seed_index, 0, 64)
    length = composer.tokens_for_seconds(SECONDS, TEMPO)
    comp = composer.compose(seed, SamplingConfig(length=length, temperature=0.8, top_k=8, seed=seed_index))
    comp = comp.trimmed(SECONDS, TEMPO)
    t1 = time.perf_counter()
    result = render(comp.midi(0, tempo=TEMPO, include_seed=False))
    t2 = time.perf_counter()
    return t2 - t0, t1 - t0, result.seconds


def main() -> list[dict]:
    import streamlit  # noqa: F401  (the app's process has it loaded)

    from musegen.generation.compose import Composer

    rows = []
    for name in ("demo-wavenet", "demo-lstm"):
        composer = Composer(ROOT / "assets" / "models" / name)
        cold, cold_gen, audio_s = _one(composer, 0)
        warm = [_one(composer, i) for i in range(1, 4)]
        rows.append(
            {
                "model": name,
                "cold_s": cold,
                "cold_generate_s": cold_gen,
                "warm_s": statistics.median(w[0] for w in warm),
                "warm_generate_s": statistics.median(w[1] for w in warm),
                "audio_s": audio_s,
            }
        )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"a {SECONDS:g}-second piece at {TEMPO:g} BPM, generated and rendered to 44.1 kHz stereo WAV\n")
    print("| model | first click: to audio (generation) | later clicks: to audio (generation) | audio length |")
    print("|---|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['model']} | {r['cold_s']:.2f} s ({r['cold_generate_s']:.2f} s) | "
            f"{r['warm_s']:.2f} s ({r['warm_generate_s']:.2f} s) | {r['audio_s']:.1f} s |"
        )
    print(f"\npeak resident memory with both demo models loaded: {peak_mb:.0f} MB")
    return rows


if __name__ == "__main__":
    main()
