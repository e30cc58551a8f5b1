"""Tempo in the output: a seed's tempo changes written into the MIDI, and what tempo the continuation takes.

Issue 33, point 3: ``piece_to_midi`` wrote one constant tempo, so a real piano seed with 950 tempo
changes came out with one, and its notes no longer sounded when they did in the file. Now
:meth:`Composition.midi <musegen.generation.compose.Composition.midi>` writes the seed's tempo map
and continues at one tempo from where the seed ends. Two measurements on the real piano pieces
(``../shared/data/piano``; skipped without them):

- **Which tempo the continuation takes.** For every third piece and seeds of 8 and 32 beats from
  the start, how far the seed's last tempo and its mean tempo are from the mean tempo of the 32
  beats that follow (``|log(guess / actual)|``): the closer guess is what the continuation plays at.
- **The seed in the output.** Whole pieces as seeds of the bundled demo LSTM (timed tokens on a
  sixteenth grid), 8 tokens generated: the tempo changes the MIDI writes and how far the seed's
  onsets in seconds lie from the file's nearest onset of the same pitch, with one tempo (the seed's
  mean: the output before) and with the tempo map.

``python -m benchmarks tempo`` (or ``python -m benchmarks.bench_tempo``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
PIANO = HERE.parent / ".." / "shared" / "data" / "piano"
WHOLE = ("Chopin/chpn-p15.mid", "Haydn/hay_40_1.mid", "Clementi/clementi_opus36_2_1.mid")


def _mean_tempo(tm: np.ndarray, start: float, end: float) -> float:
    from musegen.notes import beats_to_seconds

    seconds = beats_to_seconds(np.array([start, end]), tm)
    return 60.0 * (end - start) / float(seconds[1] - seconds[0])


def guesses() -> None:
    """The last and the mean tempo of a seed against the next 32 beats' mean tempo."""
    from musegen.config import DataConfig
    from musegen.sources.ingest import read_midi_file

    files = sorted(PIANO.glob("*/*.mid"))[::3]
    print(f"{len(files)} pieces (every third); error = |log(guess / mean tempo of the next 32 beats)|\n")
    print("| seed | last tempo: median error | mean tempo: median error | last closer in |")
    print("|---:|---:|---:|---:|")
    pieces = [read_midi_file(f, DataConfig()) for f in files]
    for beats in (8, 32):
        last, mean = [], []
        for piece in pieces:
            tm, actual = piece.tempos(), _mean_tempo(piece.tempos(), beats, beats + 32)
            last.append(abs(np.log(piece.tempo_at(beats - 1e-9) / actual)))
            mean.append(abs(np.log(_mean_tempo(tm, 0.0, beats) / actual)))
        closer = np.mean(np.array(last) < np.array(mean))
        print(f"| {beats} beats | {np.median(last):.1%} | {np.median(mean):.1%} | {closer:.0%} of the pieces |")


def _onset_error(pm, source) -> np.ndarray:
    """Seconds from each seed onset in ``pm`` to the nearest onset of the same pitch in the ``source`` file."""
    by_pitch: dict[int, list[float]] = {}
    for note in (n for inst in source.instruments for n in inst.notes):
        by_pitch.setdefault(note.pitch, []).append(note.start)
    errors = []
    for note in pm.instruments[0].notes:
        onsets = np.array(by_pitch.get(note.pitch, [np.inf]))
        errors.append(float(np.min(np.abs(onsets - note.start))))
    return np.array(errors)


def whole_seeds() -> None:
    """Whole pieces as seeds: tempo changes written and onset errors, one tempo against the map."""
    import pretty_midi

    from musegen.config import SamplingConfig
    from musegen.generation.compose import Composer

    composer = Composer(HERE.parent / "assets" / "models" / "demo-lstm")
    print(
        "\n| seed (whole piece) | tempo changes in the file | written: one tempo / map "
        "| onset error with one tempo: median, 95%, max | with the map |"
    )
    print("|---|---:|---:|---:|---:|")
    for name in WHOLE:
        data = (PIANO / name).read_bytes()
        source = pretty_midi.PrettyMIDI(str(PIANO / name))
        seed = composer.seed_from_midi(data, Path(name).name, 1_000_000)
        comp = composer.compose(seed, SamplingConfig(length=8, seed=0, motif_memory=0.0))
        flat, mapped = comp.midi(0, tempo=seed.tempo), comp.midi(0)
        cells = []
        for pm in (flat, mapped):
            err = _onset_error(pm, source)
            cells.append(f"{np.median(err):.3f} s, {np.quantile(err, 0.95):.3f} s, {err.max():.2f} s")
        written = f"{len(flat.get_tempo_changes()[0])} / {len(mapped.get_tempo_changes()[0])}"
        print(f"| {name} | {len(source.get_tempo_changes()[0])} | {written} | {cells[0]} | {cells[1]} |")


def main() -> None:
    if not PIANO.is_dir():
        print(f"skipped: the real piano pieces are not at {PIANO}")
        return
    guesses()
    whole_seeds()


if __name__ == "__main__":
    main()
