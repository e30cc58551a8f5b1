"""Issue 13's quality table: music generated from the real piano pieces, against held-out real pieces.

``python -m benchmarks.bench_piano [--rows wavenet-default,lstm-default] [--representation performance]
[--parallel 2] [--json out.json] [--keep DIR]`` (``python -m benchmarks piano`` runs every row, one at a time).

The 110 real piano pieces of ``../shared/data/piano/`` (piano-midi.de: played velocities, tempo maps,
the sustain pedal) are read through musegen's ingest with each row's DataConfig (``velocity`` tokens,
``sustain_pedal`` on reading) and split by piece, the same split for every row: a fifth (22 pieces) is
held out, sorted by name and drawn with ``split_by_piece(110, 0.2, 0)`` as ``build_dataset`` draws them.
Each row trains for ``BENCH_PIANO_MINUTES`` (default 5) minutes of wall time (TrainConfig.max_minutes;
the WaveNet and LSTM of the training benchmark, ``bench_training.CONFIGS``), then continues
``BENCH_PIANO_PIECES`` (default 20) held-out seeds, the same for every row: the first
:data:`SEED_NOTES` notes of held-out piece ``k`` (cycling when there are more seeds than pieces),
random seed ``k``, the app's default sampling (temperature 0.8, top-k 8), for about
``BENCH_PIANO_SECONDS`` (default 35) seconds of music, cut there.

The comparison set is the same for every row: each held-out real piece as a listener hears it (the
pedal on, its own velocities), the ``BENCH_PIANO_SECONDS`` seconds after its first ``SEED_NOTES`` notes.
Generated and real pieces are compared by Yang & Lerch's overlapped area per feature
(:data:`musegen.metrics.music.PIANO_FEATURES`: issue 7's eleven plus velocity mean, velocity spread
and note lengths in seconds) and by the dynamic range of their FluidSynth renderings
(:mod:`musegen.metrics.dynamics`: 95th minus 5th percentile of 50 ms loudness above -70 dBFS;
the median over pieces, and generated over real). Rows: WaveNet and LSTM, each with velocity tokens
and the pedal (``default``), without velocity (``no-velocity``), without the pedal (``no-pedal``) and
without both (``plain``); ``--rows transformer-default`` (and its other variants) adds the backbone
benchmark's CPU-sized Transformer. ``--representation performance`` runs the default rows on Performance RNN
events instead (they always carry velocity). ``--parallel 2`` trains two rows at once, one
TensorFlow thread each. ``BENCH_PIANO_FIM=0.5`` trains the rows with half their windows fill-in-the-middle
examples (the app's default for a new run) and scores, beside the table, the true middles of two
4-beat spans of each held-out piece with and without what follows them.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.piano_data import PIANO, SEED_NOTES, dynamic_ranges, held_out_names, load_pieces, real_excerpts
from benchmarks.piano_row import ROWS, WINDOW, Row, parse_rows, run_config, run_row, sampling_used

MINUTES = float(os.environ.get("BENCH_PIANO_MINUTES", "5"))
PIECES = int(os.environ.get("BENCH_PIANO_PIECES", "20"))
SECONDS = float(os.environ.get("BENCH_PIANO_SECONDS", "35"))


# --------------------------------------------------------------------------- the table


def _summary(stats: list[Any]) -> dict[str, float]:
    keys = ("n_notes", "velocity_mean", "velocity_std", "median_note_seconds", "polyphony", "pitch_class_entropy")
    keys += ("distinct_ngram_ratio", "scale_consistency")
    return {k: float(np.mean([getattr(s, k) for s in stats])) if stats else math.nan for k in keys}


def score(out: dict[str, Any], real_stats: list[Any], real_median_db: float) -> dict[str, Any]:
    """The row's comparison with the real pieces (JSON-ready: the pieces themselves left out)."""
    from musegen.errors import DatasetError
    from musegen.metrics.music import PIANO_FEATURES, compare_sets, piece_stats

    stats = [piece_stats(p) for p in out.pop("generated")]
    row = {**out, "generated_means": _summary([s for s in stats if s.n_notes])}
    row["generated_means"]["seconds"] = float(np.mean(out["generated_seconds"])) if out["generated_seconds"] else 0.0
    try:
        comparison = compare_sets(stats, real_stats, features=PIANO_FEATURES)
    except DatasetError as exc:  # a model that wrote (almost) no notes
        row.update(overlaps={}, mean_overlap=None, min_overlap=None, min_feature=None, note=str(exc))
    else:
        overlaps = {f.feature: f.overlap for f in comparison.features}
        worst = min(overlaps, key=overlaps.__getitem__)
        row.update(
            overlaps=overlaps,
            overlaps_generated={f.feature: f.overlap_generated for f in comparison.features},
            mean_overlap=comparison.mean_overlap,
            min_overlap=overlaps[worst],
            min_feature=worst,
            skipped=comparison.skipped,
        )
    ranges = row["dynamic_ranges"]
    median = float(np.median(ranges)) if ranges else math.nan
    row.update(dynamic_range_db=median, dynamic_range_ratio=median / real_median_db if real_median_db else math.nan)
    return row


def _f(x: float | None, fmt: str = ".3f") -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, fmt)


def print_tables(report: dict[str, Any]) -> None:
    from musegen.metrics.music import PIANO_FEATURES

    real = report["real"]
    print(
        f"\n{report['pieces']} pieces per row from held-out seeds (the first {SEED_NOTES} notes of a held-out "
        f"piece), {report['seconds']:g} s each; reference: {real['n']} held-out real pieces (pedal on), "
        f"the {report['seconds']:g} s after the same seeds. Budget {report['minutes']:g} min per row; sampling "
        f"temperature {report['sampling']['temperature']:g}, top-k {report['sampling']['top_k']}, note lengths at "
        f"{report['sampling']['duration_temperature'] or 'the same temperature'}, motif memory "
        f"{_memory(report)}, random seeds from "
        f"{report.get('seed_offset', 0)}.\n"
    )
    print(
        "| row | velocity | pedal | epochs | train time | held-out NLL | mean overlap | min overlap (feature) "
        "| velocity mean | velocity spread | note seconds | dynamic range (dB) | generated / real |"
    )
    print("|---|---|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|")
    for r in report["rows"]:
        o = r.get("overlaps", {})
        print(
            f"| {r['label']} | {'on' if r['velocity'] or r['representation'] == 'performance' else 'off'} "
            f"| {'on' if r['sustain_pedal'] else 'off'} | {r['epochs']} | {r['train_s']:.0f} s | {_f(r['val_nll'])} "
            f"| {_f(r['mean_overlap'])} | {_f(r['min_overlap'])} ({r['min_feature'] or '-'}) "
            f"| {_f(o.get('velocity_mean'))} | {_f(o.get('velocity_std'))} | {_f(o.get('note_seconds_histogram'))} "
            f"| {_f(r['dynamic_range_db'], '.1f')} | {_f(r['dynamic_range_ratio'], '.2f')} |"
        )
    print(
        f"| real held-out pieces | on | on | | | | 1 (by definition) | | | | | {_f(real['dynamic_range_db'], '.1f')} "
        "| 1 |"
    )
    print("\nOverlap per feature (1 = as close to the real pieces as they are to each other):\n")
    print("| feature | " + " | ".join(r["label"] for r in report["rows"]) + " |")
    print("|---|" + "---:|" * len(report["rows"]))
    for feature in PIANO_FEATURES:
        print(f"| {feature} | " + " | ".join(_f(r.get("overlaps", {}).get(feature)) for r in report["rows"]) + " |")
    print("\nMeans per piece (generated rows, then the real pieces):\n")
    keys = ("seconds", "n_notes", "velocity_mean", "velocity_std", "median_note_seconds", "polyphony")
    keys += ("pitch_class_entropy",)
    print("| row | " + " | ".join(keys) + " |")
    print("|---|" + "---:|" * len(keys))
    for label, means in [(r["label"], r["generated_means"]) for r in report["rows"]] + [("real", real["means"])]:
        print(f"| {label} | " + " | ".join(_f(means[k], ".2f") for k in keys) + " |")
    if filled := [r for r in report["rows"] if "infill" in r]:
        print("\nInfilling: the true middles of held-out spans, NLL per token with and without the suffix:\n")
        print("| row | span (beats) | with suffix | without | gain | spans | tokens |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for r in filled:
            f = r["infill"]
            print(
                f"| {r['label']} | {f['span_beats']:g} | {f['with_suffix']:.3f} | {f['without_suffix']:.3f} "
                f"| {f['gain']:+.3f} | {f['spans']} | {f['tokens']:,} |"
            )


def _representation_missing(name: str) -> str | None:
    from musegen.representations import registry

    if name in registry.names():
        return None
    return f"the {name!r} representation is not registered (registered: {', '.join(registry.names())}); nothing to run."


def _memory(report: dict[str, Any]) -> str:
    """The motif memory of the report's header: the one given, or each run's suggestion."""
    given = report["sampling"].get("motif_memory")
    if given is not None:
        return f"{given:g}" if given else "off"
    each = ", ".join(f"{r['label']} {r.get('motif_memory', 0):g}" for r in report["rows"] if "motif_memory" in r)
    return f"suited to each run ({each})" if each else "suited to each run"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_piano", description=__doc__.split("\n")[0])
    parser.add_argument("--rows", help=f"comma-separated rows (default: all timed rows): {', '.join(ROWS)}")
    parser.add_argument("--representation", default="timed", help="timed (default) or performance")
    parser.add_argument("--parallel", type=int, default=1, choices=(1, 2), help="rows trained at once")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument("--keep", type=Path, help="keep the trained run folders here (default: a temporary folder)")
    parser.add_argument(
        "--reuse", action="store_true", help="generate from the runs kept in --keep instead of training them again"
    )
    parser.add_argument("--temperature", type=float, help="sampling temperature (default: the app's)")
    parser.add_argument("--top-k", type=int, help="top-k (default: the app's; 0 = off)")
    parser.add_argument("--duration-temperature", help="temperature of note lengths (default: the app's; 'same')")
    parser.add_argument(
        "--motif-memory",
        type=float,
        help="motif memory strength (default: what suits each run, as in the app; 0 = off)",
    )
    parser.add_argument(
        "--seed-offset", type=int, default=0, help="piece k samples with random seed k + this (default 0)"
    )
    return parser


def _sampling(args: argparse.Namespace) -> dict[str, Any]:
    """The SamplingConfig fields the command line overrides."""
    overrides = (("temperature", args.temperature), ("top_k", args.top_k), ("motif_memory", args.motif_memory))
    sampling = {k: v for k, v in overrides if v is not None}
    if args.duration_temperature is not None:
        same = args.duration_temperature == "same"
        sampling["duration_temperature"] = None if same else float(args.duration_temperature)
    return sampling


def _rows(args: argparse.Namespace) -> list[Row] | None:
    """The rows to run, or None after saying why there is nothing to run."""
    if args.reuse and not args.keep:
        print("bench_piano: --reuse needs --keep DIR, the folder of the kept runs")
        return None
    try:
        rows = parse_rows(args.rows, args.representation)
    except ValueError as exc:
        print(f"bench_piano: {exc}")
        return None
    missing = _representation_missing(args.representation)
    if missing:
        print(f"bench_piano: {missing}")
        return None
    if not PIANO.is_dir():
        print(f"piano: skipped ({PIANO} is absent; it holds the 110 real piano pieces, see its README.md)")
        return None
    from musegen.errors import MusegenError
    from musegen.representations.registry import check

    try:
        for row in rows:
            check(run_config(row, MINUTES))
    except MusegenError as exc:
        print(f"bench_piano: {exc}")
        return None
    return rows


def _reference(t0: float) -> dict[str, Any]:
    """The held-out real pieces as a listener hears them: their excerpts, statistics and dynamic ranges."""
    from musegen.metrics.music import piece_stats

    real_pieces = load_pieces(pedal=True)
    held = set(held_out_names([p.name for p in real_pieces]))
    reference = real_excerpts([p for p in real_pieces if p.name in held], SECONDS)
    real_stats = [piece_stats(p) for p in reference]
    real_ranges, engine = dynamic_ranges(reference)
    real_median = float(np.median(real_ranges))
    print(
        f"reference: {len(reference)} held-out real pieces of {len(real_pieces)}, dynamic range "
        f"{real_median:.1f} dB (median, {engine}), {time.perf_counter() - t0:.0f} s",
        flush=True,
    )
    means = {**_summary(real_stats), "seconds": float(np.mean([p.seconds(p.length_beats) for p in reference]))}
    real = {"n": len(reference), "names": sorted(held), "dynamic_range_db": real_median}
    real.update({"dynamic_ranges": real_ranges, "engine": engine, "means": means})
    return {"real": real, "stats": real_stats}


def _run_rows(rows: list[Row], args: argparse.Namespace, sampling: dict[str, Any]) -> list[dict[str, Any]]:
    """Every row's result, one at a time or ``--parallel`` at once (one TensorFlow thread each)."""
    keep = bool(args.keep)
    with tempfile.TemporaryDirectory(prefix="musegen-piano-") as scratch:
        tmp = str(args.keep) if args.keep else scratch
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
        if args.parallel > 1 and len(rows) > 1:
            with ProcessPoolExecutor(max_workers=args.parallel, mp_context=get_context("spawn")) as pool:
                futures = [
                    pool.submit(
                        run_row, row, MINUTES, PIECES, SECONDS, tmp, 1, sampling, args.reuse, keep, args.seed_offset
                    )
                    for row in rows
                ]
                return [f.result() for f in futures]
        return [
            run_row(row, MINUTES, PIECES, SECONDS, tmp, 0, sampling, args.reuse, keep, args.seed_offset) for row in rows
        ]


def main(argv: list[str] | None = None) -> dict[str, Any] | None:
    args = _parser().parse_args([] if argv is None else argv)
    sampling = _sampling(args)
    rows = _rows(args)
    if rows is None:
        return None
    print(
        f"budget {MINUTES:g} min per row, {PIECES} pieces of {SECONDS:g} s; rows: {', '.join(r.label for r in rows)}; "
        f"{args.parallel} at a time; load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    t0 = time.perf_counter()
    reference = _reference(t0)
    outputs = _run_rows(rows, args, sampling)
    real = reference["real"]
    report = {
        "date": time.strftime("%Y-%m-%d"),
        "minutes": MINUTES,
        "pieces": PIECES,
        "seconds": SECONDS,
        "seed_notes": SEED_NOTES,
        "window": WINDOW or 128,
        "parallel": args.parallel,
        "representation": args.representation,
        "sampling": sampling_used(sampling),
        "seed_offset": args.seed_offset,
        "real": real,
        "rows": [score(out, reference["stats"], real["dynamic_range_db"]) for out in outputs],
        "seconds_total": round(time.perf_counter() - t0),
    }
    print_tables(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=float) + "\n")
        print(f"\nwrote {args.json}")
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
