"""Originality: how much of what the models generate is copied from their training pieces (issue 15).

For each generated piece, :mod:`musegen.metrics.originality` finds the longest passage (in
notes, in any transposition) that also occurs in a training piece, and flags it when its onsets
span more than two bars of 4/4 (8 beats). Three parts:

(a) speed and memory: index a synthetic training set of 1,000,000 notes (chorale-like random
    pieces of 250 notes, chords included) and look up a generated piece of 3,000 notes that holds
    a transposed 40-note excerpt of one of them; in a child process, so that the peak resident
    memory (``ru_maxrss``) is that of the work alone, beside the process's memory before it began.
(b) the bundled demo models (``assets/models/demo-*``): ``BENCH_ORIGINALITY_PIECES`` (20)
    continuations of held-out seeds (the first 64 tokens of held-out piece ``k``, sampling seed
    ``k``, the app's default sampling, 360 tokens: about 40 beats), the continuations alone
    against the run's training pieces; beside them the real continuations of the same seeds (the
    held-out piece's notes after the seed, as many beats as the generated continuation has).
(c) with ``--small`` (or ``BENCH_ORIGINALITY_SMALL=1``): the same for an LSTM trained here with
    the CLI (``--preset demo``) on the first 20 built-in chorales (4 held out), at most
    ``BENCH_ORIGINALITY_MINUTES`` (2.5) minutes: a model that has seen few pieces and may recite them.

``python -m benchmarks.bench_originality [--small] [--json]`` (``python -m benchmarks originality``
runs (a) and (b), and (c) when the variable is set).
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
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "assets" / "models"
PIECES = int(os.environ.get("BENCH_ORIGINALITY_PIECES", "20"))
SMALL = os.environ.get("BENCH_ORIGINALITY_SMALL", "") not in ("", "0")
MINUTES = float(os.environ.get("BENCH_ORIGINALITY_MINUTES", "2.5"))
EPOCHS = int(os.environ.get("BENCH_ORIGINALITY_EPOCHS", "60"))  # with early stopping on the held-out 4
PATIENCE = int(os.environ.get("BENCH_ORIGINALITY_PATIENCE", "0"))
LENGTH = 360  # timed tokens generated: about 40 beats of chorale
SEED_TOKENS = 64
TRAINING_NOTES = 1_000_000
QUERY_NOTES = 3_000
MB = 2**20


# ------------------------------------------------------------ (a) speed and memory


def _random_piece(rng: np.random.Generator, name: str, n: int) -> Any:
    from musegen.notes import Piece, make_notes

    onsets = np.cumsum(rng.choice([0.0, 0.0, 0.5, 1.0], n))  # chords: half the notes share an onset
    walk = np.cumsum(rng.integers(-4, 5, n)) % 96
    pitches = 36 + np.where(walk > 48, 96 - walk, walk)  # a random walk folded into 36-84
    notes = np.stack([onsets, onsets + 1.0, pitches, np.full(n, 80)], axis=1).astype(np.float64)
    return Piece(name, make_notes(notes))


def synthetic_child(n_notes: int, query_notes: int) -> dict[str, Any]:
    """Runs in the child process: build, query, and the peak memory of both."""
    from musegen.metrics.originality import OriginalityIndex
    from musegen.notes import Piece, make_notes

    rng = np.random.default_rng(0)
    per_piece = 250
    training = [_random_piece(rng, f"synthetic {i}", per_piece) for i in range(n_notes // per_piece)]
    source = training[len(training) // 2]
    excerpt = source.notes[100:140].copy()
    excerpt[:, 2] += 5
    first = _random_piece(rng, "generated", query_notes // 2).notes
    excerpt[:, :2] += first[-1, 0] + 1.25 - excerpt[0, 0]  # off the others' grid
    second = _random_piece(rng, "generated", query_notes - query_notes // 2).notes
    second[:, :2] += excerpt[-1, 0] + 1.25
    generated = Piece("generated", make_notes(np.concatenate([first, excerpt, second])))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    t0 = time.perf_counter()
    index = OriginalityIndex.from_pieces(training)
    built = time.perf_counter()
    copy = index.longest_copy(generated)
    queried = time.perf_counter()
    random_copy = index.longest_copy(_random_piece(rng, "random", query_notes))
    queried_random = time.perf_counter()
    return {
        "training_notes": index.n_notes,
        "training_pieces": index.n_pieces,
        "query_notes": generated.n_notes,
        "build_s": round(built - t0, 2),
        "query_s": round(queried - built, 2),
        "query_random_s": round(queried_random - queried, 2),
        "index_mb": round(index.nbytes / MB, 1),
        "rss_before_mb": round(before / MB),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / MB),
        "found": copy.to_dict(),
        "found_ok": copy.training_piece == source.name and copy.notes >= 40 and copy.transposition == 5,
        "random_notes": random_copy.notes,
    }


def synthetic(n_notes: int = TRAINING_NOTES, query_notes: int = QUERY_NOTES) -> dict[str, Any]:
    command = [sys.executable, "-m", "benchmarks.bench_originality", "--child", str(n_notes), str(query_notes)]
    out = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"the measured process failed ({out.returncode}): {out.stderr.strip()[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------ (b), (c) models


def model_rows(run_dir: Path, label: str, pieces: int = PIECES) -> list[dict[str, Any]]:
    """Generated continuations of held-out seeds and the real ones, against the run's training pieces."""
    from musegen.config import SamplingConfig
    from musegen.generation.compose import Composer
    from musegen.metrics.originality import OriginalityIndex, copy_rate
    from musegen.notes import Piece

    composer = Composer(run_dir)
    stored = composer.pieces()
    training = [composer.rep.decode(ids, name.removeprefix("training: ")) for name, ids in stored if _train(name)]
    held_out = [i for i, (name, _) in enumerate(stored) if name.startswith("held-out")]
    t0 = time.perf_counter()
    index = OriginalityIndex.from_pieces(training)
    built = time.perf_counter() - t0
    generated, real = [], []
    t0 = time.perf_counter()
    for k in range(pieces):
        which = held_out[k % len(held_out)]
        seed = composer.seed_from_piece(which, 0, SEED_TOKENS)
        sampling = SamplingConfig(length=LENGTH, seed=k)
        piece = composer.compose(seed, sampling).continuations[0]
        generated.append(piece)
        whole = composer.rep.decode(stored[which][1], stored[which][0]).notes
        span = max(piece.length_beats, 1.0)
        after = whole[(whole[:, 0] >= seed.end_beats) & (whole[:, 0] < seed.end_beats + span)].copy()
        after[:, :2] -= seed.end_beats
        real.append(Piece(f"real continuation {k + 1}", after))
    generated_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    rows = [
        {"model": label, "set": "generated", **copy_rate(index, generated)},
        {"model": label, "set": "real (held-out)", **copy_rate(index, real)},
    ]
    lookup = time.perf_counter() - t0
    for row in rows:
        row.update(
            training_pieces=index.n_pieces,
            training_notes=index.n_notes,
            held_out_seeds=min(pieces, len(held_out)),
            mean_piece_notes=float(np.mean([p.n_notes for p in (generated if row["set"] == "generated" else real)])),
            index_s=round(built, 2),
            lookup_s=round(lookup, 2),
            generate_s=round(generated_s, 1),
        )
    longest = max(generated, key=lambda p: index.longest_copy(p).notes)
    rows[0]["longest"] = index.longest_copy(longest).describe()
    history = composer.run.history
    rows[0]["trained"] = {"epochs": history.epochs_done, "best_epoch": history.best_epoch, "best": history.best_value}
    return rows


def _train(label: str) -> bool:
    return label.startswith("training")


def train_small(runs_dir: str, minutes: float = MINUTES) -> Path:
    """An LSTM of the demo preset on the first 20 built-in chorales, trained by the CLI."""
    command = [sys.executable, "-m", "musegen", "train", "--preset", "demo", "--arch", "lstm"]
    command += ["--max-pieces", "20", "--val-fraction", "0.2", "--epochs", str(EPOCHS), "--patience", str(PATIENCE)]
    command += ["--max-minutes", str(minutes), "--runs-dir", runs_dir, "--name", "small-lstm", "--no-eval", "--json"]
    out = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"training failed ({out.returncode}): {out.stderr.strip()[-2000:]}")
    return Path(runs_dir) / "small-lstm"


# ------------------------------------------------------------ report


def format_synthetic(r: dict[str, Any]) -> str:
    found = r["found"]
    return "\n".join(
        [
            f"(a) {r['training_notes']:,} training notes in {r['training_pieces']:,} pieces; a generated piece "
            f"of {r['query_notes']:,} notes holding a transposed 40-note excerpt",
            "",
            "| build index | query (excerpt) | query (random piece) | index size | peak RSS | RSS before |",
            "|---:|---:|---:|---:|---:|---:|",
            f"| {r['build_s']} s | {r['query_s']} s | {r['query_random_s']} s | {r['index_mb']} MB "
            f"| {r['peak_rss_mb']} MB | {r['rss_before_mb']} MB |",
            "",
            f"excerpt found: {found['notes']} notes from '{found['training_piece']}' at note "
            f"{found['training_start_note']}, transposed {found['transposition']:+d} "
            f"({'right' if r['found_ok'] else 'WRONG'}); a random piece's longest copy: {r['random_notes']} notes",
        ]
    )


def format_rows(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| model | pieces | training pieces | share > 2 bars | mean notes | max notes | mean beats | max beats "
        "| notes a piece |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['set']} | {r['training_pieces']} "
            f"| {r['flagged_share']:.2f} ({r['flagged']}/{r['pieces']}) | {r['mean_notes']:.1f} "
            f"| {r['max_notes']} | {r['mean_beats']:.1f} | {r['max_beats']:.1f} | {r['mean_piece_notes']:.0f} |"
        )
    return "\n".join(lines)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_originality", description=__doc__.split("\n")[0])
    parser.add_argument("--small", action="store_true", default=SMALL, help="also train and measure (c)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the tables")
    parser.add_argument("--pieces", type=int, default=PIECES, help="generated pieces per model (default 20)")
    parser.add_argument("--models", default="demo-lstm,demo-wavenet,demo-transformer", help="bundled runs to measure")
    parser.add_argument("--child", nargs=2, type=int, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse(list(argv or []))
    if args.child:
        print(json.dumps(synthetic_child(*args.child)), flush=True)
        return {}
    say = (lambda *a, **k: print(*a, **k, file=sys.stderr)) if args.json else print
    report: dict[str, Any] = {"synthetic": synthetic()}
    say(format_synthetic(report["synthetic"]), flush=True)
    plan = [(DEMO / name, name) for name in args.models.split(",") if name and (DEMO / name).is_dir()]
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        if args.small:
            t0 = time.perf_counter()
            plan.append((train_small(tmp), "lstm on 20 chorales"))
            report["small_train_s"] = round(time.perf_counter() - t0, 1)
            say(f"\n(c) trained the small LSTM in {report['small_train_s']} s", flush=True)
        for run_dir, label in plan:
            t0 = time.perf_counter()
            rows += model_rows(run_dir, label, args.pieces)
            say(f"  {label}: {time.perf_counter() - t0:.0f} s", flush=True)
    report["rows"] = rows
    say(
        f"\n(b{', c' if args.small else ''}) {args.pieces} continuations of held-out seeds per model (the first "
        f"{SEED_TOKENS} tokens, {LENGTH} tokens generated, default sampling) and the real continuations of the same "
        "seeds, against each run's training pieces; a copy is flagged when its onsets span more than 8 beats\n"
    )
    say(format_rows(rows))
    for row in rows:
        if "longest" in row:
            t = row["trained"]
            best = f"{t['best']:.3f}" if t["best"] is not None else "?"
            say(f"\n{row['model']} ({t['epochs']} epochs, best {best} at epoch {t['best_epoch']}): {row['longest']}")
    if args.json:
        print(json.dumps(report))
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
