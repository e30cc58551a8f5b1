"""A corpus of 100,000 MIDI files from the command line: ingest into a token store, then train from it.

``python -m benchmarks.bench_corpus [--files N] [--small M] [--dir DIR]`` writes N distinct MIDI files
(the built-in Bach chorales and, when present, the real piano pieces of ``../shared/data/piano``, each
transposed by -12..+12 semitones and cut at different bars), in folders of 1,000, then measures:

- ingest into a store (``python -m musegen ingest DIR --store S``, a real process) at M and at N files:
  files per second, the peak resident memory of the ingest process (``ru_maxrss``; the decoding workers
  are separate processes with their own limits) and the store's size on disk: memory must not grow with
  the file count;
- the store's ``tf.data`` input pipeline alone (windows per second, plain and with fill-in-the-middle at
  0.5) against one training step of a small WaveNet and of an LSTM at the same batch: the input must
  never be the bottleneck.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PIANO = ROOT.parent / "shared" / "data" / "piano"
PPQ = 480
BATCH, WINDOW = 64, 128
MB = 1024 * 1024


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_corpus")
    p.add_argument("--files", type=int, default=100_000, help="files of the big corpus (default 100,000)")
    p.add_argument("--small", type=int, default=10_000, help="files of the small corpus (memory at two sizes)")
    p.add_argument("--dir", help="work folder (default: a temporary one, removed after)")
    p.add_argument("--batches", type=int, default=50, help="batches timed per pipeline and model")
    return p.parse_args(argv)


# ------------------------------------------------------------------ the corpus


def base_pieces() -> list:
    from musegen.config import DataConfig
    from musegen.sources.corpus import load_builtin_corpus
    from musegen.sources.ingest import ingest_paths

    pieces = load_builtin_corpus()
    if PIANO.is_dir():
        pieces += ingest_paths([PIANO], DataConfig(), use_cache=False).pieces
    return [p for p in pieces if p.n_notes >= 16]


def smf_bytes(notes: np.ndarray) -> bytes:
    """A type-0 Standard MIDI File of (start, end, pitch, velocity) rows in beats, at 120 BPM."""
    on = np.stack([np.round(notes[:, 0] * PPQ), np.ones(len(notes)), notes[:, 2], notes[:, 3]], 1)
    off = np.stack([np.round(notes[:, 1] * PPQ), np.zeros(len(notes)), notes[:, 2], np.zeros(len(notes))], 1)
    events = np.concatenate([on, off]).astype(np.int64)
    events = events[np.lexsort((events[:, 1], events[:, 0]))]  # at one tick, note-offs first
    track = bytearray(b"\x00\xff\x51\x03\x07\xa1\x20")  # tempo 500,000 us a beat
    now = 0
    for tick, is_on, pitch, velocity in events.tolist():
        track += _varlen(tick - now) + bytes([0x90 if is_on else 0x80, pitch, velocity])
        now = tick
    track += b"\x00\xff\x2f\x00"
    header = b"MThd" + (6).to_bytes(4, "big") + (0).to_bytes(2, "big") + (1).to_bytes(2, "big") + PPQ.to_bytes(2, "big")
    return header + b"MTrk" + len(track).to_bytes(4, "big") + bytes(track)


def _varlen(n: int) -> bytes:
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def write_corpus(folder: Path, n: int, pieces: list) -> float:
    """N distinct files: piece k % P, transposed by one of 25 shifts, cut at one of many bars. Seconds taken."""
    t0 = time.perf_counter()
    shifts = 25
    for k in range(n):
        piece = pieces[k % len(pieces)]
        shift = (k // len(pieces)) % shifts - 12
        cut = (k // (len(pieces) * shifts)) * 4.0  # whole bars of 4 beats dropped from the start
        notes = piece.notes.copy()
        notes[:, 2] = np.clip(notes[:, 2] + shift, 0, 127)
        notes = notes[notes[:, 0] >= min(cut, notes[-1, 0] - 8)]
        notes[:, :2] -= notes[0, 0]
        sub = folder / f"{k // 1000:04d}"
        if k % 1000 == 0:
            sub.mkdir(parents=True, exist_ok=True)
        (sub / f"{k:06d}_{piece.name.replace('/', '_')[:40]}_{shift:+d}_{int(cut)}.mid").write_bytes(smf_bytes(notes))
    return time.perf_counter() - t0


# ------------------------------------------------------------------ measurements


def ingest(folder: Path, store: Path, n: int) -> dict:
    """``python -m musegen ingest`` into a store, in its own process; its wall time and peak RSS."""
    code = (
        "import resource, runpy, sys; sys.argv = ['musegen'] + sys.argv[1:]\n"
        "try:\n    runpy.run_module('musegen', run_name='__main__')\n"
        "except SystemExit as e:\n    code = e.code\n"
        "print('MAXRSS', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
        "sys.exit(code)"
    )
    cmd = [sys.executable, "-c", code, "ingest", str(folder), "--store", str(store), "--json"]
    cmd += ["--max-files", str(n), "--overwrite"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode:
        raise RuntimeError(f"ingest failed: {proc.stderr[-2000:]}")
    manifest = json.loads(proc.stdout)
    rss = int(proc.stderr.rsplit("MAXRSS", 1)[1].split()[0]) / 1024
    size = sum(f.stat().st_size for f in store.iterdir())
    return {
        "files": manifest["files"],
        "pieces": manifest["pieces"],
        "tokens": manifest["tokens"],
        "wall_s": round(wall, 1),
        "files_per_s": round(manifest["files"] / wall, 1),
        "peak_rss_mb": round(rss, 1),
        "store_mb": round(size / MB, 1),
    }


def pipeline_rate(store_dir: Path, fim: float, batches: int) -> float:
    """Windows per second out of the store's training pipeline alone."""
    from musegen.config import RunConfig
    from musegen.representations.registry import for_vocab
    from musegen.streams.store import open_store

    store = open_store(store_dir)
    config = RunConfig()
    config.data.window, config.data.stride, config.data.fim_rate = WINDOW, WINDOW // 2, fim
    rep = for_vocab(store.vocab.with_fim() if fim else store.vocab)
    data = rep.store_training_data(store, config, BATCH, seed=0)
    it = iter(data.train)
    next(it)
    t0 = time.perf_counter()
    seen = sum(int(next(it)[0].shape[0]) for _ in range(batches))
    return seen / (time.perf_counter() - t0)


def step_time(arch: str, vocab_size: int, batches: int) -> float:
    """Seconds of one training step (batch BATCH, window WINDOW) of a small model of ``arch``."""
    import keras

    from musegen.config import ModelConfig, RunConfig
    from musegen.models import build_model

    config = RunConfig(model=ModelConfig(arch=arch, channels=32, skip_channels=64, units=128, embed_dim=32))
    model = build_model(config.model, vocab_size, WINDOW)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer="adam", loss=loss)
    rng = np.random.default_rng(0)
    x = rng.integers(3, vocab_size, (BATCH, WINDOW)).astype(np.int32)
    model.train_on_batch(x, x)
    t0 = time.perf_counter()
    for _ in range(batches):
        model.train_on_batch(x, x)
    return (time.perf_counter() - t0) / batches


def main(argv: list[str] | None = None) -> dict:
    args = parse(list(argv or []))
    from musegen.tf_setup import configure_tensorflow

    work = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="bench-corpus-"))
    folder = work / "midi"
    pieces = base_pieces()
    have = sum(1 for _ in folder.rglob("*.mid")) if folder.is_dir() else 0
    written = write_corpus(folder, args.files, pieces) if have != args.files else 0.0
    print(f"corpus: {args.files:,} distinct files from {len(pieces)} real pieces, written in {written:.1f} s\n")
    rows = [ingest(folder, work / f"store-{n}", n) for n in sorted({args.small, args.files})]
    print("| files | pieces | tokens | ingest wall | files/s | peak RSS (ingest process) | store on disk |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['files']:,} | {r['pieces']:,} | {r['tokens']:,} | {r['wall_s']} s | {r['files_per_s']:,} "
            f"| {r['peak_rss_mb']:,} MB | {r['store_mb']:,} MB |"
        )
    configure_tensorflow()
    big = work / f"store-{args.files}"
    from musegen.streams.store import open_store

    vocab_size = len(open_store(big).vocab) + 4
    rates = {fim: pipeline_rate(big, fim, args.batches) for fim in (0.0, 0.5)}
    steps = {arch: step_time(arch, vocab_size, max(5, args.batches // 5)) for arch in ("wavenet", "lstm")}
    print(f"\ninput pipeline vs training step, batch {BATCH} x window {WINDOW} ({os.cpu_count()} cores):\n")
    print("| what | windows/s | ms per batch of 64 |")
    print("|---|---:|---:|")
    for fim, rate in rates.items():
        print(f"| store pipeline, fim_rate {fim} | {rate:,.0f} | {1000 * BATCH / rate:.1f} |")
    for arch, seconds in steps.items():
        print(f"| {arch} training step (small) | {BATCH / seconds:,.0f} | {1000 * seconds:.1f} |")
    return {"ingest": rows, "pipeline": rates, "steps": steps, "self_rss_mb": _rss()}


def _rss() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


if __name__ == "__main__":
    main(sys.argv[1:])
