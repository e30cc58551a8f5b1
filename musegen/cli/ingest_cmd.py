"""``python -m musegen ingest [PATH ...]``: read MIDI and report what is usable."""

from __future__ import annotations

import argparse
import sys

from musegen.cli import print_json
from musegen.config import DataConfig
from musegen.datasets.stats import dataset_stats
from musegen.representations.registry import DEFAULT, names
from musegen.sources.ingest import IngestReport, ingest_paths


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
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a summary")
    return p


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
        f"{stats.events:,} {cfg.representation} events, vocabulary {stats.vocab_size}, pitches {lo}-{hi}."
    )
    return 0


def _print_results(report: IngestReport) -> None:
    for r in report.results:
        mark = "ok  " if r.ok else "skip"
        detail = f"{r.n_notes} notes" if r.ok else r.reason
        print(f"{mark}  {r.name}: {detail}")
