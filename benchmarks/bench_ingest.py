"""Ingest speed: musegen (pretty_midi) against the tutorial's music21 reader, same files, one run.

The files are real music: Bach chorales from the built-in corpus written as piano MIDI.
Also measures re-ingesting the unchanged files (content-hash cache) against the first ingest.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

N_FILES = int(os.environ.get("BENCH_INGEST_FILES", "40"))


def tutorial_read_midi(path: str) -> list[str]:
    """The tutorial's reader: music21 parse, partition by instrument, piano parts only."""
    from music21 import chord, converter, instrument, note

    notes = []
    midi = converter.parse(path)
    for part in instrument.partitionByInstrument(midi).parts:
        if "Piano" in str(part):
            for element in part.recurse():
                if isinstance(element, note.Note):
                    notes.append(str(element.pitch))
                elif isinstance(element, chord.Chord):
                    notes.append(".".join(str(n) for n in element.normalOrder))
    return notes


def main() -> list[dict]:
    from musegen.config import DataConfig
    from musegen.corpus import load_builtin_corpus
    from musegen.ingest import ingest_paths
    from musegen.tokens import make_tokenizer
    from tests.midi_factory import piece_midi

    pieces = load_builtin_corpus(limit=N_FILES)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "midi"
        folder.mkdir()
        for p in pieces:
            (folder / f"{p.name}.mid").write_bytes(piece_midi(p))
        os.environ["MUSEGEN_CACHE_DIR"] = str(Path(tmp) / "cache")
        files = sorted(folder.glob("*.mid"))

        t0 = time.perf_counter()
        tutorial_tokens = sum(len(tutorial_read_midi(str(f))) for f in files)
        t_tutorial = time.perf_counter() - t0

        tokenizer = make_tokenizer(DataConfig())
        t0 = time.perf_counter()
        report = ingest_paths([folder])
        t_first = time.perf_counter() - t0
        t0 = time.perf_counter()
        events = sum(len(tokenizer.tokenize(p)) for p in report.pieces)
        t_tokens = time.perf_counter() - t0

        t0 = time.perf_counter()
        again = ingest_paths([folder])
        t_again = time.perf_counter() - t0
        assert all(r.cached for r in again.results)

    n = len(files)
    rows = [
        {
            "reader": "tutorial (music21 parse + partitionByInstrument)",
            "ms_per_file": 1e3 * t_tutorial / n,
            "events": tutorial_tokens,
        },
        {
            "reader": "musegen first ingest (pretty_midi + cache write)",
            "ms_per_file": 1e3 * t_first / n,
            "events": events,
        },
        {"reader": "musegen timed tokens", "ms_per_file": 1e3 * t_tokens / n, "events": events},
        {
            "reader": "musegen ingest + tokens (vs the tutorial's tokens)",
            "ms_per_file": 1e3 * (t_first + t_tokens) / n,
            "events": events,
        },
        {"reader": "musegen re-ingest (content-hash cache)", "ms_per_file": 1e3 * t_again / n, "events": events},
    ]
    print(f"{n} chorales written as piano MIDI\n")
    print("| reader | ms per file | events |\n|---|---:|---:|")
    for r in rows:
        print(f"| {r['reader']} | {r['ms_per_file']:.2f} | {r['events']:,} |")
    print(
        f"\nspeed-up of musegen (ingest + tokens) over the tutorial: {t_tutorial / (t_first + t_tokens):.1f}x"
        " (goal >= 20x)"
    )
    print(f"re-ingest cost: {100 * t_again / t_first:.1f}% of the first ingest (goal <= 5%)")
    return rows


if __name__ == "__main__":
    main()
