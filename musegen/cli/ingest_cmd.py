"""``python -m musegen ingest [PATH ...]``: read MIDI and report what is usable.

With ``--store DIR`` the files are streamed into a token store instead (:mod:`musegen.streams.store`):
folders of 100,000 files and more, read lazily, decoded in parallel, tokenized and written to disk as
they come, in bounded memory; ``python -m musegen train --store DIR`` trains from it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

from musegen.cli import print_json
from musegen.config import DataConfig, Limits
from musegen.datasets.build_store import ingest_to_store
from musegen.datasets.stats import dataset_stats
from musegen.errors import ConfigError
from musegen.representations.registry import DEFAULT, names
from musegen.sources.ingest import IngestReport, ingest_paths
from musegen.sources.sandbox import MAX_WORKERS, set_worker_limit


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "ingest",
        help="read MIDI files, folders or zips (default: the built-in Bach chorales) and report",
        description="Read .mid/.midi files, folders and .zip archives; print a per-file report and statistics. "
        "With no PATH, the built-in Bach chorales are used.",
    )
    p.add_argument("paths", nargs="*", metavar="PATH", help="MIDI files, folders or .zip archives")
    add_data_flags(p)
    p.add_argument("--no-cache", action="store_true", help="parse every file again, ignoring the content-hash cache")
    p.add_argument(
        "--no-pedal",
        action="store_true",
        help="ignore the sustain pedal (controller 64): notes end where their keys are let go",
    )
    p.add_argument(
        "--store",
        metavar="DIR",
        help="stream the files into a token store in DIR (a corpus of any size; train with `train --store DIR`)",
    )
    p.add_argument(
        "--max-files",
        type=int,
        metavar="N",
        help=f"with --store: read at most N files (default {Limits().max_files:,}, up to {MAX_STORE_FILES:,})",
    )
    p.add_argument(
        "--val-fraction", type=float, default=0.1, help="with --store: share of pieces held out (by a name hash)"
    )
    p.add_argument("--overwrite", action="store_true", help="with --store: replace a finished store in DIR")
    p.add_argument(
        "--workers", type=int, help="with --store: decoding worker processes (default: one per core of this machine)"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a summary")
    return p


MAX_STORE_FILES = 1_000_000  # files one store ingest may read (--max-files)
REASONS_SHOWN = 10  # reasons listed in the summary (files.jsonl in the store has every file's)


def add_data_flags(p: argparse.ArgumentParser) -> None:
    """Flags shared by commands that read a dataset."""
    p.add_argument("--repr", choices=names(), default=DEFAULT, help="token kind, or 88-key pianoroll frames")
    p.add_argument("--grid", type=int, default=4, help="quantization steps per beat (4 = 16ths, 12 = with triplets)")
    p.add_argument(
        "--instruments",
        default="all",
        help="'all' non-drum parts, 'piano' (the tutorial), or comma-separated General MIDI programs (0-127)",
    )


def data_config_from_args(args: argparse.Namespace) -> DataConfig:
    if args.instruments in ("all", "piano"):
        cfg = DataConfig(representation=args.repr, steps_per_beat=args.grid, instrument_filter=args.instruments)
    else:
        try:
            programs = tuple(int(x) for x in args.instruments.split(","))
        except ValueError:
            programs = ()
        cfg = DataConfig(
            representation=args.repr, steps_per_beat=args.grid, instrument_filter="programs", programs=programs
        )
    cfg.validate()
    return cfg


def run(args: argparse.Namespace) -> int:
    cfg = data_config_from_args(args)
    cfg.sustain_pedal = not args.no_pedal
    if args.store:
        return _run_store(args, cfg)
    if args.max_files is not None or args.overwrite or args.workers is not None:
        raise ConfigError("--max-files, --overwrite and --workers go with --store DIR (a token store for big corpora).")
    show = not args.json and sys.stderr.isatty()

    def progress(done: int, total: int, name: str) -> None:
        if show and name:
            print(f"\r[{done + 1}/{total}] {name[:60]:<60}", end="", file=sys.stderr)

    report = ingest_paths(args.paths, cfg, on_progress=progress, use_cache=not args.no_cache)
    if show:
        print(file=sys.stderr)
    error = report.unusable_error()
    if error:  # the per-file reasons still come out: they say what to fix
        if args.json:
            print_json({**report.to_dict(), "ok": False, "error": str(error), "kind": type(error).__name__})
        else:
            _print_results(report)
        print(f"error: {error}", file=sys.stderr)
        return 2
    stats = dataset_stats(report.pieces, cfg)
    if args.json:
        out = report.to_dict()
        out["stats"] = {k: v for k, v in stats.to_dict().items() if k != "events_per_piece"}
        print_json(out)
        return 0
    _print_results(report)
    lo, hi = stats.pitch_range
    print(
        f"\n{report.n_ok} usable, {report.n_skipped} skipped; {stats.notes:,} notes, "
        f"{stats.events:,} {cfg.representation} events, vocabulary {stats.vocab_size}, pitches {lo}-{hi}; "
        f"grid fit {report.grid_fit:.2f} (median share of onsets on the sixteenth grid)."
    )
    if report.looks_unquantized:
        print(report.timing_advice())
    return 0


def _print_results(report: IngestReport) -> None:
    for r in report.results:
        mark = "ok  " if r.ok else "skip"
        detail = f"{r.n_notes} notes" if r.ok else r.reason
        if r.ok and r.grid_fit is not None:
            detail += f", grid fit {r.grid_fit:.2f}"
        print(f"{mark}  {r.name}: {detail}")


def _run_store(args: argparse.Namespace, cfg: DataConfig) -> int:
    """Stream the files into a token store; summarise the reasons (every file's is in files.jsonl)."""
    if args.max_files is not None and not 1 <= args.max_files <= MAX_STORE_FILES:
        raise ConfigError(f"--max-files must be between 1 and {MAX_STORE_FILES:,}, got {args.max_files}.")
    if not args.paths:
        raise ConfigError("give the MIDI files or folders to store: `ingest PATH... --store DIR`.")
    if not 0.0 <= args.val_fraction < 1.0:
        raise ConfigError(f"--val-fraction must be in [0, 1), got {args.val_fraction}.")
    cfg.val_fraction = args.val_fraction
    tty = sys.stderr.isatty()
    calls = [0]

    def progress(read: int, stored: int, name: str, rate: float) -> None:
        calls[0] += 1
        line = f"[{read:,} files] {stored:,} stored, {read - stored:,} skipped, {rate:,.0f} files/s"
        if tty:
            print(f"\r{line}  {name[-40:]:<40}", end="" if name else "\n", file=sys.stderr, flush=True)
        elif not name or calls[0] % 20 == 1:  # about every 10 s in a log
            print(line, file=sys.stderr, flush=True)

    t0 = time.perf_counter()
    workers = args.workers if args.workers is not None else os.cpu_count() or 1
    if not 1 <= workers <= MAX_WORKERS:
        raise ConfigError(f"--workers must be between 1 and {MAX_WORKERS}, got {workers}.")
    set_worker_limit(workers)  # this process has the machine to itself: every core decodes
    manifest = ingest_to_store(
        args.paths,
        args.store,
        cfg,
        max_files=args.max_files,
        overwrite=args.overwrite,
        workers=workers,
        on_progress=progress,
    )
    seconds = time.perf_counter() - t0
    if args.json:
        print_json({"ok": True, "store": args.store, "seconds": round(seconds, 3), **manifest})
        return 0
    _print_store_summary(args.store, manifest, seconds)
    return 0


def _print_store_summary(store: str, m: dict[str, Any], seconds: float) -> None:
    print(
        f"{m['files']:,} files in {seconds:,.1f} s ({m['files'] / max(seconds, 1e-9):,.0f} files/s): {m['ok']:,} "
        f"stored, {m['skipped']:,} skipped. {m['pieces']:,} pieces, {m['tokens']:,} {m['representation']} tokens "
        f"({m['train_pieces']:,} training / {m['val_pieces']:,} validation pieces), vocabulary {m['vocab_size']}."
    )
    reasons = sorted(m["reasons"].items(), key=lambda kv: -kv[1])
    for reason, count in reasons[:REASONS_SHOWN]:
        names = ", ".join(m["reason_examples"].get(reason, []))
        print(f"  skipped {count:,}: {reason} (e.g. {names})")
    if len(reasons) > REASONS_SHOWN:
        print(f"  ... and {len(reasons) - REASONS_SHOWN} other reasons")
    if m.get("limited"):
        print(f"  stopped after {m['max_files']:,} files (--max-files); the rest were not read.")
    print(f"store: {store} (every file's result in {store}/files.jsonl); train with `train --store {store}`")
