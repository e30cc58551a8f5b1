"""``python -m musegen benchmark jsb|poly``: musegen's piano-roll models on one set of the polyphonic family, or all."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from musegen.cli import parse_settings, print_json
from musegen.errors import ConfigError
from musegen.experiments.jsb import ARCHS, DEFAULT_DATA, DEFAULT_MINUTES, SETS, format_report, run_benchmark
from musegen.experiments.poly import DEFAULT_SETS, format_family, run_family

NAMES = ("jsb", "poly")


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "benchmark",
        help="run a published benchmark (jsb: one piano-roll set, JSB Chorales by default; poly: the family)",
        description="Train musegen's piano-roll models (about 300K parameters; the LSTM and the WaveNet with the "
        "NADE head or independent keys, or transformer-nade) on a polyphonic piano-roll .mat "
        "(JSB Chorales by default; MuseData and Piano-midi ship too, and any .mat of the same format works), select "
        "the model on validdata only, and report the test frame NLL once, beside the published numbers and two "
        "floors. `poly` runs every set in turn with the same settings. Progress goes to stderr.",
    )
    p.add_argument("name", choices=NAMES, help="the benchmark: jsb (one set) or poly (the family)")
    p.add_argument(
        "--data",
        metavar="SET|FILE.mat",
        help=f"jsb: the set ({', '.join(SETS)}) or a piano-roll .mat (default {DEFAULT_DATA.name})",
    )
    p.add_argument(
        "--sets",
        default=",".join(DEFAULT_SETS),
        help=f"poly: comma-separated sets or .mat files (default {','.join(DEFAULT_SETS)})",
    )
    p.add_argument("--arch", default=",".join(ARCHS), help=f"comma-separated models (default {','.join(ARCHS)})")
    p.add_argument(
        "--minutes",
        type=float,
        default=DEFAULT_MINUTES,
        help=f"training budget per architecture (default {DEFAULT_MINUTES:g})",
    )
    p.add_argument("--epochs", type=int, help="at most this many epochs per architecture (quick trials)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="try another setting (a ModelConfig/TrainConfig field or transpose=[lo,hi]); compare on validdata only",
    )
    p.add_argument("--runs-dir", help="keep the run folders here (the app can generate from them); default: discard")
    p.add_argument("--json", action="store_true", help="print one JSON object (the report) on stdout")
    return p


def run(args: argparse.Namespace) -> int:
    archs = [a.strip() for a in args.arch.split(",") if a.strip()]
    overrides = parse_settings(args.set)
    if args.epochs is not None:
        if args.epochs < 1:
            raise ConfigError(f"--epochs must be at least 1, got {args.epochs}.")
        overrides["epochs"] = args.epochs
    options = {"runs_dir": args.runs_dir, "on_progress": _progress, **overrides}
    if args.name == "poly":
        if args.data is not None:
            raise ConfigError("benchmark poly takes --sets, not --data (e.g. --sets jsb,musedata,FILE.mat).")
        sets = [s.strip() for s in args.sets.split(",") if s.strip()]
        report = run_family(sets, archs, args.minutes, **options)
        text = format_family(report)
    else:
        report = run_benchmark(args.data, archs, args.minutes, **options)
        text = format_report(report)
    if args.json:
        print_json(report)
    else:
        print(text)
    return 0


def _progress(arch: str, event: Any) -> None:
    if event.kind == "epoch":
        val = f" valid {event.val_loss:.3f}" if event.val_loss is not None else ""
        print(
            f"{arch} epoch {event.epoch}: train {event.loss:.3f}{val} ({event.elapsed_s:.0f} s)",
            file=sys.stderr,
            flush=True,
        )
    elif event.kind == "status" and event.message:
        print(f"{arch} [{event.status}] {event.message}", file=sys.stderr, flush=True)
