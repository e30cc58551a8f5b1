"""Ingest speed: musegen (pretty_midi) against the tutorial's music21 reader, same files, one run.

The files are real music: Bach chorales from the built-in corpus written as piano MIDI.
Also measures re-ingesting the unchanged files (content-hash cache) against the first ingest,
and, where ``../shared/data/piano`` holds the 110 real piano files, what decoding each file in a
worker process with memory and CPU limits costs against decoding it in this process.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

N_FILES = int(os.environ.get("BENCH_INGEST_FILES", "40"))
PIANO = Path(__file__).resolve().parents[2] / "shared" / "data" / "piano"


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
    from musegen.representations.registry import for_config
    from musegen.sources.corpus import load_builtin_corpus
    from musegen.sources.ingest import ingest_paths
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

        tokenizer = for_config(DataConfig()).tokenizer
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
        # the decoding workers are started once per process (an app server keeps them): warm figure
        t0 = time.perf_counter()
        ingest_paths([folder], use_cache=False)
        t_warm = time.perf_counter() - t0

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
        {
            "reader": "musegen ingest, decoding workers already running (an app server's case)",
            "ms_per_file": 1e3 * t_warm / n,
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
        f" with the workers' start, {t_tutorial / (t_warm + t_tokens):.1f}x with them running (goal >= 20x)"
    )
    print(f"re-ingest cost: {100 * t_again / t_first:.1f}% of the first ingest (goal <= 5%)")
    return rows + piano_rows()


def piano_rows(repeats: int = 3) -> list[dict]:
    """The real piano files: ingest in decoding workers (first run with their start, then warm) against
    the same decoder in this process, and the cached re-ingest; the best of ``repeats`` runs each."""
    if not PIANO.is_dir():
        print(f"\n(no piano files at {PIANO}: the worker figures are skipped)")
        return []
    from musegen.config import DataConfig, Limits
    from musegen.sources.ingest import ingest_paths
    from musegen.sources.sandbox import decode_here

    files = sorted(PIANO.rglob("*.mid"))
    data = [f.read_bytes() for f in files]
    cfg, limits = DataConfig(), Limits()
    before = os.environ.get("MUSEGEN_CACHE_DIR")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["MUSEGEN_CACHE_DIR"] = tmp
        t0 = time.perf_counter()
        first = ingest_paths([PIANO], use_cache=False)  # includes starting the workers
        t_start = time.perf_counter() - t0
        t_workers = min(_timed(lambda: ingest_paths([PIANO], use_cache=False)) for _ in range(repeats))
        t_here = min(_timed(lambda: [decode_here(d, cfg, limits) for d in data]) for _ in range(repeats))
        ingest_paths([PIANO])
        t_cached = min(_timed(lambda: ingest_paths([PIANO])) for _ in range(repeats))
    if before is None:
        os.environ.pop("MUSEGEN_CACHE_DIR", None)
    else:
        os.environ["MUSEGEN_CACHE_DIR"] = before
    n = len(files)
    rows = [
        {"reader": "piano: ingest, decoding workers (first, with their start)", "ms_per_file": 1e3 * t_start / n},
        {"reader": "piano: ingest, decoding workers (warm)", "ms_per_file": 1e3 * t_workers / n},
        {"reader": "piano: the same decoder in this process, one file after another", "ms_per_file": 1e3 * t_here / n},
        {"reader": "piano: re-ingest (content-hash cache, no worker)", "ms_per_file": 1e3 * t_cached / n},
    ]
    print(f"\n{n} real piano files ({first.n_ok} usable, {sum(p.n_notes for p in first.pieces):,} notes)\n")
    print("| reader | ms per file |\n|---|---:|")
    for r in rows:
        print(f"| {r['reader']} | {r['ms_per_file']:.2f} |")
    return rows


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


if __name__ == "__main__":
    main()
