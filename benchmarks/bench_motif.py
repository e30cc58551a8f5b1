"""Peak memory and time of the motif memory over a long batch: 64 variations x 10,000 tokens.

The motif memory (:mod:`musegen.steering.motif`) is asked before every draw of every variation
what followed the longest recent figure, and told every token drawn. The bug this guards against
(issue 33, point 5): it kept a dictionary of every context of 4 to 12 tokens it had seen, nine
tuples per remembered token per variation, so 64 variations x 10,000 tokens took 2.2 GB.

The loop is the decoding loop's steps without a network: the timed tokens' vocabulary (velocities
on: 195 tokens, 35 of them left out of figures), a prompt of 64 random tokens per variation, and a
stand-in model whose logits depend on the last token drawn (a fixed random table, so that figures
recur as they do in music), mixed by :meth:`MotifMemory.mix` at strength 0.5, drawn by inverse CDF
and remembered by :meth:`MotifMemory.observe`. It runs in a child process, so the peak resident
memory (``ru_maxrss``) is the loop's own: the report gives it and its growth over the memory before
the loop, with the wall and CPU time of the loop (on a shared machine the CPU time is the steadier).
The ``checksum`` of every token drawn and ``used`` (draws the memory continued) are the same for
two implementations that make the same decisions.

``python -m benchmarks motif`` (or ``python -m benchmarks.bench_motif``) runs the full size;
``--variations`` and ``--tokens`` set it. To measure another tree's implementation, run this file
with that tree first on ``PYTHONPATH``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import zlib

import numpy as np

MB = 2**20


def run_loop(variations: int, tokens: int, strength: float = 0.5, seed: int = 0) -> dict[str, float | int]:
    """The loop of the module doc, in this process; its time, peak memory and what it drew."""
    from musegen.config import DataConfig
    from musegen.representations.timed import TimedRepresentation
    from musegen.steering.motif import MotifMemory

    rep = TimedRepresentation.from_config(DataConfig(velocity=True))
    width = len(rep.vocab)
    rng = np.random.default_rng(seed)
    table = rng.normal(size=(width, width)) * 6  # the stand-in model: logits given the last token
    prompt = rng.integers(3, width, (variations, 64))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    start, cpu = time.perf_counter(), time.process_time()
    memory = MotifMemory(width, variations, strength, rep.motif_skip_ids())
    memory.prime(prompt)
    last = prompt[:, -1]
    checksum = 0
    for _ in range(tokens):
        z = memory.mix(table[last])
        p = np.exp(z - z.max(axis=1, keepdims=True))
        cdf = np.cumsum(p, axis=1)
        u = rng.random((variations, 1)) * cdf[:, -1:]
        last = np.minimum((cdf < u).sum(axis=1), width - 1)
        memory.observe(last)
        checksum = zlib.crc32(last.astype(np.int32).tobytes(), checksum)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {
        "variations": variations,
        "tokens": tokens,
        "seconds": round(seconds, 2),
        "cpu_s": round(cpu, 2),
        "peak_rss_mb": round(peak / MB, 1),
        "growth_mb": round((peak - before) / MB, 1),
        "used": memory.used,
        "checksum": checksum,
    }


def measure(variations: int, tokens: int) -> dict[str, float | int]:
    """:func:`run_loop` in a child process (its own peak)."""
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_motif", "--child", f"--variations={variations}", f"--tokens={tokens}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variations", type=int, default=64)
    parser.add_argument("--tokens", type=int, default=10_000)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv if argv is not None else [])
    if args.child:
        print(json.dumps(run_loop(args.variations, args.tokens)))
        return
    row = measure(args.variations, args.tokens)
    print(
        "| variations | tokens | time (s) | CPU time (s) | peak RSS (MB) | growth in the loop (MB) "
        "| draws continued | checksum |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {row['variations']} | {row['tokens']:,} | {row['seconds']} | {row['cpu_s']} | {row['peak_rss_mb']:,} | "
        f"{row['growth_mb']:,} | {row['used']:,} | {row['checksum']} |"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
