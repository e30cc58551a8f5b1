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
# training window in tokens (0 = the training benchmark's 128); the WaveNet's dilations then reach across it
WINDOW = int(os.environ.get("BENCH_PIANO_WINDOW", "0"))
SEED_NOTES = 24  # notes of a held-out piece's opening that the model continues
VAL_FRACTION = 0.2  # 22 of the 110 pieces held out: one seed from each of 20
SPLIT_SEED = 0
ARCHS = ("wavenet", "lstm")
EXTRA_ARCHS = ("transformer",)  # the backbone benchmark's CPU-sized Transformer: only when named in --rows
# variant -> (velocity tokens, sustain pedal on reading)
VARIANTS = {"default": (True, True), "no-velocity": (False, True), "no-pedal": (True, False), "plain": (False, False)}
ROWS = tuple(f"{arch}-{variant}" for arch in ARCHS for variant in VARIANTS)
EXTRA_ROWS = tuple(f"{arch}-{variant}" for arch in EXTRA_ARCHS for variant in VARIANTS)
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
    unknown = [n for n in names if n not in ROWS + EXTRA_ROWS]
    if unknown:
        raise ValueError(f"unknown row(s) {', '.join(unknown)}; choose from {', '.join(ROWS + EXTRA_ROWS)}.")
    rows = []
    for name in dict.fromkeys(names):
        arch, _, variant = name.partition("-")
        velocity, pedal = VARIANTS[variant]
        rows.append(Row(name, arch, velocity, pedal, representation))
    return rows


def run_config(row: Row, minutes: float) -> Any:
    """The row's RunConfig: the training benchmark's model and settings (the backbone benchmark's for the
    Transformer), the row's data settings."""
    from benchmarks.bench_backbones import CONFIGS

    cfg = copy.deepcopy(CONFIGS[row.arch])
    cfg.data.representation = row.representation
    cfg.data.velocity = row.velocity
    cfg.data.sustain_pedal = row.pedal
    cfg.data.val_fraction = VAL_FRACTION
    cfg.data.split_seed = SPLIT_SEED
    cfg.train.max_minutes = minutes
    if WINDOW:
        cfg.data.window, cfg.data.stride = WINDOW, max(1, WINDOW // 2)
        cfg.model.dilation_cycle = max(cfg.model.dilation_cycle, math.ceil(math.log2(WINDOW)))  # field >= window
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
    from musegen.metrics.music import excerpt

    return [excerpt(p, float(p.seconds(opening_end(p))), seconds, name=f"real: {p.name}") for p in pieces]


def dynamic_ranges(pieces: list[Any]) -> tuple[list[float], str]:
    """The dynamic range (dB) of each piece's rendering, and the engine that rendered them."""
    from musegen.metrics.dynamics import dynamic_range
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


def sampling_used(sampling: dict[str, Any] | None) -> dict[str, Any]:
    """The temperature and top-k that ``sampling``'s overrides make of the app's defaults."""
    from musegen.config import SamplingConfig

    cfg = SamplingConfig(**(sampling or {}))
    return {
        "temperature": cfg.temperature,
        "top_k": cfg.top_k,
        "duration_temperature": cfg.duration_temperature,
        "motif_memory": cfg.motif_memory,
    }


def generate_row(
    row: Row,
    run_dir: Path,
    pieces: list[Any],
    held: list[str],
    n_pieces: int,
    seconds: float,
    sampling: dict[str, Any],
    say: Any,
    keep: bool = False,
    seed_offset: int = 0,
) -> tuple[list[Any], float, Any]:
    """Continue ``n_pieces`` held-out seeds with the run's model: the generated excerpts, the seconds it took
    and the Composer. ``sampling`` overrides SamplingConfig's defaults (the app's) for every piece; piece
    ``k`` samples with random seed ``k + seed_offset``."""
    from musegen.config import SamplingConfig
    from musegen.generation.compose import Composer
    from musegen.metrics.music import excerpt
    from musegen.output.midi import TEMPO_RANGE, midi_bytes, piece_to_midi

    composer = Composer(run_dir)
    by_name = {p.name: p for p in pieces}
    generated, t0 = [], time.perf_counter()
    for k in range(n_pieces):
        source = by_name[held[k % len(held)]]
        opening = seed_piece(source)
        tempo = float(np.clip(source.tempo, *TEMPO_RANGE))
        data = midi_bytes(piece_to_midi(opening, tempo=tempo))
        seed = composer.seed_from_midi(data, f"{source.name}.mid", length=100_000)
        length = composer.tokens_for_seconds(seconds, seed.tempo)
        cfg = SamplingConfig(**{"length": length, "seed": k + seed_offset, **sampling})
        piece = composer.compose(seed, cfg).continuations[0]
        generated.append(excerpt(piece, 0.0, seconds, name=f"{row.name} {k + 1}: after {source.name}"))
        if keep:  # to listen to what the table scores
            (Path(run_dir) / "generated").mkdir(exist_ok=True)
            (Path(run_dir) / "generated" / f"{k + 1:02d}.mid").write_bytes(
                midi_bytes(piece_to_midi(piece, tempo=seed.tempo))
            )
        say(f"generated {k + 1}/{n_pieces}: {piece.n_notes} notes, {cfg.length} tokens")
    return generated, time.perf_counter() - t0, composer


def run_row(
    row: Row,
    minutes: float,
    n_pieces: int,
    seconds: float,
    folder: str,
    threads: int = 0,
    sampling: dict[str, Any] | None = None,
    reuse: bool = False,
    keep: bool = False,
    seed_offset: int = 0,
) -> dict[str, Any]:
    """Train the row's model (or, with ``reuse``, take the one already in ``folder``), continue the
    held-out seeds, render the results; a plain dict (it crosses a process boundary) with the generated
    pieces, the training figures and the dynamic ranges."""
    if threads:
        os.environ["MUSEGEN_TF_THREADS"] = str(threads)
    from musegen import runs
    from musegen.datasets.dataset import build_dataset
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
    name = f"{row.name}-{row.representation}"
    run_dir = Path(folder) / name
    if reuse:  # a run kept by an earlier --keep: its model, figures and history as they were
        if not (run_dir / "status.json").is_file():
            raise FileNotFoundError(f"no kept run {run_dir}: run the row once with --keep {folder}")
        history, metrics_file = runs.read_history(run_dir), runs.read_metrics(run_dir)
        status = runs.read_status(run_dir)
        train_s = float(history.epochs[-1].elapsed_s) if history.epochs else 0.0
        epochs, best_epoch, state = history.epochs_done, history.best_epoch, str(status.get("state", ""))
        metrics = metrics_file.to_dict() if metrics_file else {}
        say(f"reusing {run_dir}: {epochs} epochs, {state}")
    else:
        run_dir = runs.create_run(folder, cfg, dataset.vocab, name=name, overwrite=True)

        def progress(event: Any) -> None:
            if event.kind == "epoch":
                loss = "n/a" if event.val_loss is None else f"{event.val_loss:.3f}"
                say(f"epoch {event.epoch}: held-out loss {loss}, {event.elapsed_s:.0f} s")

        t0 = time.perf_counter()
        result = train(cfg, dataset, run_dir, on_progress=progress)
        train_s = time.perf_counter() - t0
        metrics = result.metrics.to_dict() if result.metrics else {}
        epochs, best_epoch, state = result.epochs_done, result.best_epoch, result.status
        say(f"{result.status} after {result.epochs_done} epochs, {train_s:.0f} s ({result.message})")

    generated, gen_s, composer = generate_row(
        row, run_dir, pieces, held, n_pieces, seconds, sampling or {}, say, keep, seed_offset
    )
    used = sampling_used(sampling)
    ranges, engine = dynamic_ranges(generated)
    return {
        "row": row.name,
        "label": row.label,
        "arch": row.arch,
        "representation": row.representation,
        "velocity": row.velocity,
        "sustain_pedal": row.pedal,
        "params": int(composer.model.count_params()),
        "epochs": epochs,
        "best_epoch": best_epoch,
        "train_s": round(train_s, 1),
        "generate_s": round(gen_s, 1),
        "status": state,
        "sampling": used,
        # the strength generation used: the run's suggestion (Composer.motif_strength) unless given
        "motif_memory": composer.motif_strength() if used["motif_memory"] is None else used["motif_memory"],
        "figure_repetition": round(composer.figure_repetition(), 3),
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


def main(argv: list[str] | None = None) -> dict[str, Any] | None:
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
    args = parser.parse_args([] if argv is None else argv)
    if args.reuse and not args.keep:
        print("bench_piano: --reuse needs --keep DIR, the folder of the kept runs")
        return None
    overrides = (("temperature", args.temperature), ("top_k", args.top_k), ("motif_memory", args.motif_memory))
    sampling = {k: v for k, v in overrides if v is not None}
    if args.duration_temperature is not None:
        same = args.duration_temperature == "same"
        sampling["duration_temperature"] = None if same else float(args.duration_temperature)
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
    from musegen.metrics.music import piece_stats
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
                outputs = [f.result() for f in futures]
        else:
            outputs = [
                run_row(row, MINUTES, PIECES, SECONDS, tmp, 0, sampling, args.reuse, keep, args.seed_offset)
                for row in rows
            ]
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
