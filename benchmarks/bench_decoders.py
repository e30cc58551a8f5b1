"""Decoders: musegen's own SMF decoder + pretty_midi against symusic, same files, one run.

The files are the 110 real piano files of ``../shared/data/piano`` where present, else Bach chorales
of the built-in corpus written as MIDI. For each decoder: ms per file in this process (best of a few
rounds), ms per file and files per second through the decoding worker pool (all of this machine's
workers), whether the notes equal the SMF decoder's, and the peak memory one decoder process reached
(a fresh interpreter decoding every file). ``BENCH_DECODER_MUTANTS=N`` also decodes N damaged files
(the fuzz battery's mutations) with each decoder through the pool and counts where they disagree.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PIANO = Path(__file__).resolve().parents[2] / "shared" / "data" / "piano"
ROOT = Path(__file__).resolve().parents[1]
DECODERS = ("smf", "symusic")
_PEAK = """
import resource, sys
from pathlib import Path
from musegen.config import DataConfig, Limits
from musegen.sources.decode import decode_notes
files = [p.read_bytes() for p in sorted(Path(sys.argv[2]).glob("*.mid"))]
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
for data in files:
    decode_notes(data, DataConfig(), Limits(), decoder=sys.argv[1])
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024, before // 1024)
"""


def _files() -> tuple[str, list[bytes]]:
    if PIANO.is_dir() and any(PIANO.rglob("*.mid")):
        return "real piano files", [p.read_bytes() for p in sorted(PIANO.rglob("*.mid"))]
    from musegen.sources.corpus import load_builtin_corpus
    from tests.midi_factory import piece_midi

    return "Bach chorales written as MIDI", [piece_midi(p, tempo=90) for p in load_builtin_corpus(limit=60)]


def _in_process(files: list[bytes], decoder: str, rounds: int = 3) -> tuple[float, list]:
    from musegen.config import DataConfig, Limits
    from musegen.sources.decode import decode_notes

    cfg, limits = DataConfig(), Limits()
    best, out = float("inf"), []
    for _ in range(rounds):
        start = time.perf_counter()
        out = [decode_notes(d, cfg, limits, decoder=decoder) for d in files]
        best = min(best, time.perf_counter() - start)
    return best, out


def _pool(files: list[bytes], decoder: str) -> tuple[float, list]:
    from musegen.config import DataConfig, Limits
    from musegen.sources.sandbox import WORKERS, DecodePool

    os.environ["MUSEGEN_DECODER"] = decoder
    with DecodePool(DataConfig(), Limits(), workers=WORKERS) as pool:  # started and warm before the clock
        list(pool.map([(i, d) for i, d in enumerate(files[: 2 * WORKERS])]))
        start = time.perf_counter()
        out = [r for _, r in pool.map(list(enumerate(files)))]
        return time.perf_counter() - start, out


def _peak_mb(files: list[bytes], decoder: str) -> tuple[int, int]:
    with tempfile.TemporaryDirectory() as tmp:
        for i, data in enumerate(files):
            Path(tmp, f"{i:04d}.mid").write_bytes(data)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        out = subprocess.run(
            [sys.executable, "-c", _PEAK, decoder, tmp], capture_output=True, text=True, check=True, env=env
        )
    peak, before = map(int, out.stdout.split())
    return peak, before


def _equal(a, b) -> bool:
    import numpy as np

    def canonical(x):
        return x[np.lexsort((x[:, 3], x[:, 1], x[:, 2], x[:, 0]))]

    return a[0].shape == b[0].shape and np.allclose(canonical(a[0]), canonical(b[0]), atol=1e-9) and a[1] == b[1]


def _mutants(n: int) -> dict:
    from musegen.sources.corpus import load_builtin_corpus
    from tests.hardening.test_mutation_fuzz import _mutate, _seeds

    rng = random.Random(17)
    seeds = _seeds(load_builtin_corpus(limit=12))
    mutants = [_mutate(rng.choice(seeds), rng, seeds) for _ in range(n)]
    results, seconds = {}, {}
    for decoder in DECODERS:
        seconds[decoder], results[decoder] = _pool(mutants, decoder)
    pairs = list(zip(results["smf"], results["symusic"], strict=True))
    old, new = results["smf"], results["symusic"]
    return {
        "mutants": n,
        "s_smf": round(seconds["smf"], 1),
        "s_symusic": round(seconds["symusic"], 1),
        "ok_smf": sum(r.notes is not None for r in old),
        "ok_symusic": sum(r.notes is not None for r in new),
        "category_differs": sum((a.notes is None) != (b.notes is None) for a, b in pairs),
        "reason_differs": sum(a.notes is None and b.notes is None and a.reason != b.reason for a, b in pairs),
        "notes_differ": sum(
            a.notes is not None and b.notes is not None and not _equal((a.notes, a.tempo), (b.notes, b.tempo))
            for a, b in pairs
        ),
    }


def main() -> list[dict]:
    from musegen.sources.sandbox import WORKERS

    what, files = _files()
    print(f"{len(files)} {what}, {sum(map(len, files)) / len(files) / 1024:.1f} KB each; {WORKERS} workers\n")
    rows, reference = [], None
    for decoder in DECODERS:
        here, notes = _in_process(files, decoder)
        pooled, _ = _pool(files, decoder)
        peak, before = _peak_mb(files, decoder)
        reference = reference or notes
        rows.append(
            {
                "decoder": decoder,
                "ms_per_file": round(1000 * here / len(files), 2),
                "files_per_s_one_core": round(len(files) / here),
                "pool_ms_per_file": round(1000 * pooled / len(files), 2),
                "pool_files_per_s": round(len(files) / pooled),
                "notes": sum(len(n) for n, _ in notes),
                "notes_equal_smf": all(_equal(a, b) for a, b in zip(reference, notes, strict=True)),
                "peak_mb": peak,
                "peak_mb_after_imports": before,
            }
        )
    print("| " + " | ".join(rows[0]) + " |")
    print("|" + "---|" * len(rows[0]))
    for row in rows:
        print("| " + " | ".join(str(v) for v in row.values()) + " |")
    print(f"\nsymusic is {rows[0]['ms_per_file'] / rows[1]['ms_per_file']:.0f}x faster per file in-process")
    n = int(os.environ.get("BENCH_DECODER_MUTANTS", "0"))
    if n:
        rows.append(_mutants(n))
        print(json.dumps(rows[-1]))
    return rows


if __name__ == "__main__":
    main()
