"""Issue 13's quality table: music generated from the real piano pieces, against held-out real pieces.

``python -m benchmarks.bench_piano [--rows wavenet-default,lstm-default] [--representation performance]
[--parallel 2] [--json out.json]`` (``python -m benchmarks piano`` runs every row, one at a time).

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
(:data:`musegen.evaluation.music.PIANO_FEATURES`: issue 7's eleven plus velocity mean, velocity spread
and note lengths in seconds) and by the dynamic range of their FluidSynth renderings
(:mod:`musegen.evaluation.dynamics`: 95th minus 5th percentile of 50 ms loudness above -70 dBFS;
the median over pieces, and generated over real). Rows: WaveNet and LSTM, each with velocity tokens
and the pedal (``default``), without velocity (``no-velocity``), without the pedal (``no-pedal``) and
without both (``plain``). ``--representation performance`` runs the default rows on Performance RNN
events instead (they always carry velocity). ``--parallel 2`` trains two rows at once, one
TensorFlow thread each.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PIANO = ROOT.parent / "shared" / "data" / "piano"
MINUTES = float(os.environ.get("BENCH_PIANO_MINUTES", "5"))
PIECES = int(os.environ.get("BENCH_PIANO_PIECES", "20"))
SECONDS = float(os.environ.get("BENCH_PIANO_SECONDS", "35"))
SEED_NOTES = 24  # notes of a held-out piece's opening that the model continues
VAL_FRACTION = 0.2  # 22 of the 110 pieces held out: one seed from each of 20
SPLIT_SEED = 0
ARCHS = ("wavenet", "lstm")
# variant -> (velocity tokens, sustain pedal on reading)
VARIANTS = {"default": (True, True), "no-velocity": (False, True), "no-pedal": (True, False), "plain": (False, False)}
ROWS = tuple(f"{arch}-{variant}" for arch in ARCHS for variant in VARIANTS)
DEFAULT_ROWS = tuple(f"{arch}-default" for arch in ARCHS)
RENDER = {"reverb": True, "chorus": False, "tail_s": 0.0}  # no tail: the measure is of the music, not the room


@dataclass(frozen=True)
class Row:
    """One row of the table: a model and what it reads."""

    name: str  # e.g. "wavenet-default"
    arch: str
    velocity: bool
    pedal: bool
    representation: str

    @property
    def label(self) -> str:
        return self.name if self.representation == "timed" else f"{self.name} ({self.representation})"


def parse_rows(text: str | None, representation: str = "timed") -> list[Row]:
    """Rows named in ``text`` (comma-separated; all of :data:`ROWS` when empty, or the default rows for a
    representation other than timed); ValueError naming the choices for an unknown one."""
    if text:
        names = [n.strip() for n in text.split(",") if n.strip()]
    else:
        names = list(ROWS if representation == "timed" else DEFAULT_ROWS)
    unknown = [n for n in names if n not in ROWS]
    if unknown:
        raise ValueError(f"unknown row(s) {', '.join(unknown)}; choose from {', '.join(ROWS)}.")
    rows = []
    for name in dict.fromkeys(names):
        arch, _, variant = name.partition("-")
        velocity, pedal = VARIANTS[variant]
        rows.append(Row(name, arch, velocity, pedal, representation))
    return rows


def run_config(row: Row, minutes: float) -> Any:
    """The row's RunConfig: the training benchmark's model and settings, the row's data settings."""
    from benchmarks.bench_training import CONFIGS

    cfg = copy.deepcopy(CONFIGS[row.arch])
    cfg.data.representation = row.representation
    cfg.data.velocity = row.velocity
    cfg.data.sustain_pedal = row.pedal
    cfg.data.val_fraction = VAL_FRACTION
    cfg.data.split_seed = SPLIT_SEED
    cfg.train.max_minutes = minutes
    return cfg


# --------------------------------------------------------------------------- the music


def load_pieces(pedal: bool) -> list[Any]:
    """The real piano pieces read with the pedal on or off, sorted by name."""
    from musegen.config import DataConfig
    from musegen.sources.ingest import ingest_paths

    report = ingest_paths([PIANO], DataConfig(sustain_pedal=pedal))
    return sorted(report.pieces, key=lambda p: p.name)


def held_out_names(names: list[str]) -> list[str]:
    """The held-out pieces of the fixed split (as build_dataset draws them from pieces in this order)."""
    from musegen.datasets.dataset import split_by_piece

    _, val = split_by_piece(len(names), VAL_FRACTION, SPLIT_SEED)
    return [names[i] for i in val]


def opening_end(piece: Any) -> float:
    """The beat where a piece's seed ends: the onset of its note number ``SEED_NOTES + 1``."""
    starts = np.sort(piece.notes[:, 0])
    return float(starts[min(SEED_NOTES, len(starts) - 1)])


def seed_piece(piece: Any) -> Any:
    """The first ``SEED_NOTES`` notes of ``piece`` (those that begin before :func:`opening_end`)."""
    from musegen.notes import Piece

    notes = piece.notes[piece.notes[:, 0] < opening_end(piece)]
    return Piece(piece.name, notes, piece.tempo, piece.tempo_map)


def real_excerpts(pieces: list[Any], seconds: float) -> list[Any]:
    """The ``seconds`` of each real piece after its seed: what the real piece does next."""
    from musegen.evaluation.music import excerpt

    return [excerpt(p, float(p.seconds(opening_end(p))), seconds, name=f"real: {p.name}") for p in pieces]


def dynamic_ranges(pieces: list[Any]) -> tuple[list[float], str]:
    """The dynamic range (dB) of each piece's rendering, and the engine that rendered them."""
    from musegen.evaluation.dynamics import dynamic_range
    from musegen.output.audio import render

    out, engine = [], ""
    for piece in pieces:
        if not piece.n_notes:
            continue
        result = render(piece, **RENDER)
        engine = result.engine
        out.append(dynamic_range(result.wav).range_db)
    return out, engine


# --------------------------------------------------------------------------- one row


def run_row(row: Row, minutes: float, n_pieces: int, seconds: float, folder: str, threads: int = 0) -> dict[str, Any]:
    """Train the row's model, continue the held-out seeds, render the results; a plain dict (it crosses a
    process boundary) with the generated pieces, the training figures and the dynamic ranges."""
    if threads:
        os.environ["MUSEGEN_TF_THREADS"] = str(threads)
    from musegen import runs
    from musegen.config import SamplingConfig
    from musegen.datasets.dataset import build_dataset
    from musegen.evaluation.music import excerpt
    from musegen.generation.compose import Composer
    from musegen.output.midi import TEMPO_RANGE, midi_bytes, piece_to_midi
    from musegen.training.loop import train

    def say(text: str) -> None:
        print(f"  [{row.label}] {text}", flush=True)

    cfg = run_config(row, minutes)
    pieces = load_pieces(row.pedal)
    held = held_out_names([p.name for p in pieces])
    dataset = build_dataset(pieces, cfg.data)
    if sorted(dataset.val_names) != sorted(held):
        say(f"warning: the dataset held out {len(dataset.val_names)} other pieces than the fixed split")
    say(f"{len(dataset.train)} training pieces ({dataset.n_train_tokens:,} tokens), {len(dataset.val)} held out")
    run_dir = runs.create_run(folder, cfg, dataset.vocab)

    def progress(event: Any) -> None:
        if event.kind == "epoch":
            loss = "n/a" if event.val_loss is None else f"{event.val_loss:.3f}"
            say(f"epoch {event.epoch}: held-out loss {loss}, {event.elapsed_s:.0f} s")

    t0 = time.perf_counter()
    result = train(cfg, dataset, run_dir, on_progress=progress)
    train_s = time.perf_counter() - t0
    metrics = result.metrics.to_dict() if result.metrics else {}
    say(f"{result.status} after {result.epochs_done} epochs, {train_s:.0f} s ({result.message})")

    composer = Composer(run_dir)
    by_name = {p.name: p for p in pieces}
    generated, t0 = [], time.perf_counter()
    for k in range(n_pieces):
        source = by_name[held[k % len(held)]]
        opening = seed_piece(source)
        tempo = float(np.clip(source.tempo, *TEMPO_RANGE))
        data = midi_bytes(piece_to_midi(opening, tempo=tempo))
        seed = composer.seed_from_midi(data, f"{source.name}.mid", length=100_000)
        sampling = SamplingConfig(length=composer.tokens_for_seconds(seconds, seed.tempo), seed=k)
        piece = composer.compose(seed, sampling).continuations[0]
        generated.append(excerpt(piece, 0.0, seconds, name=f"{row.name} {k + 1}: after {source.name}"))
        say(f"generated {k + 1}/{n_pieces}: {piece.n_notes} notes, {sampling.length} tokens")
    gen_s = time.perf_counter() - t0
    ranges, engine = dynamic_ranges(generated)
    return {
        "row": row.name,
        "label": row.label,
        "arch": row.arch,
        "representation": row.representation,
        "velocity": row.velocity,
        "sustain_pedal": row.pedal,
        "params": int(composer.model.count_params()),
        "epochs": result.epochs_done,
        "best_epoch": result.best_epoch,
        "train_s": round(train_s, 1),
        "generate_s": round(gen_s, 1),
        "status": result.status,
        "val_nll": metrics.get("model", {}).get("nll"),
        "ngram_nll": metrics.get("baseline", {}).get("nll"),
        "train_tokens": dataset.n_train_tokens,
        "vocab_size": len(dataset.vocab),
        "generated": generated,
        "dynamic_ranges": ranges,
        "engine": engine,
        # seconds of music each generated piece covers (its last note's end): under ``seconds`` when the model
        # stopped short, which moves the length-sensitive features
        "generated_seconds": [round(float(p.seconds(p.length_beats)), 2) for p in generated],
    }


# --------------------------------------------------------------------------- the table


def _summary(stats: list[Any]) -> dict[str, float]:
    keys = ("n_notes", "velocity_mean", "velocity_std", "median_note_seconds", "polyphony", "pitch_class_entropy")
    return {k: float(np.mean([getattr(s, k) for s in stats])) if stats else math.nan for k in keys}


def score(out: dict[str, Any], real_stats: list[Any], real_median_db: float) -> dict[str, Any]:
    """The row's comparison with the real pieces (JSON-ready: the pieces themselves left out)."""
    from musegen.errors import DatasetError
    from musegen.evaluation.music import PIANO_FEATURES, compare_sets, piece_stats

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
    from musegen.evaluation.music import PIANO_FEATURES

    real = report["real"]
    print(
        f"\n{report['pieces']} pieces per row from held-out seeds (the first {SEED_NOTES} notes of a held-out "
        f"piece), {report['seconds']:g} s each; reference: {real['n']} held-out real pieces (pedal on), "
        f"the {report['seconds']:g} s after the same seeds. Budget {report['minutes']:g} min per row.\n"
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


def _representation_missing(name: str) -> str | None:
    from musegen.representations import registry

    if name in registry.names():
        return None
    return f"the {name!r} representation is not registered (registered: {', '.join(registry.names())}); nothing to run."


def main(argv: list[str] | None = None) -> dict[str, Any] | None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_piano", description=__doc__.split("\n")[0])
    parser.add_argument("--rows", help=f"comma-separated rows (default: all timed rows): {', '.join(ROWS)}")
    parser.add_argument("--representation", default="timed", help="timed (default) or performance")
    parser.add_argument("--parallel", type=int, default=1, choices=(1, 2), help="rows trained at once")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = parser.parse_args([] if argv is None else argv)
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
    from musegen.evaluation.music import piece_stats
    from musegen.representations.registry import check

    try:
        for row in rows:
            check(run_config(row, MINUTES))
    except MusegenError as exc:
        print(f"bench_piano: {exc}")
        return None

    print(
        f"budget {MINUTES:g} min per row, {PIECES} pieces of {SECONDS:g} s; rows: {', '.join(r.label for r in rows)}; "
        f"{args.parallel} at a time; load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    t0 = time.perf_counter()
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
    outputs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="musegen-piano-") as tmp:
        if args.parallel > 1 and len(rows) > 1:
            with ProcessPoolExecutor(max_workers=args.parallel, mp_context=get_context("spawn")) as pool:
                futures = [pool.submit(run_row, row, MINUTES, PIECES, SECONDS, tmp, 1) for row in rows]
                outputs = [f.result() for f in futures]
        else:
            outputs = [run_row(row, MINUTES, PIECES, SECONDS, tmp) for row in rows]
    report = {
        "date": time.strftime("%Y-%m-%d"),
        "minutes": MINUTES,
        "pieces": PIECES,
        "seconds": SECONDS,
        "seed_notes": SEED_NOTES,
        "parallel": args.parallel,
        "representation": args.representation,
        "real": {
            "n": len(reference),
            "names": sorted(held),
            "dynamic_range_db": real_median,
            "dynamic_ranges": real_ranges,
            "engine": engine,
            "means": {
                **_summary(real_stats),
                "seconds": float(np.mean([p.seconds(p.length_beats) for p in reference])),
            },
        },
        "rows": [score(out, real_stats, real_median) for out in outputs],
        "seconds_total": round(time.perf_counter() - t0),
    }
    print_tables(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=float) + "\n")
        print(f"\nwrote {args.json}")
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
