"""``python -m musegen pretrain``: train (or resume) the base model on the corpus store."""

from __future__ import annotations

import argparse
import sys

from musegen.cli import parse_settings, print_json
from musegen.cli.evaluate_cmd import format_metrics
from musegen.cli.train_cmd import print_event
from musegen.training.pretrain import BASE_MINUTES, BASE_NAME, BASE_RUNS, MAX_BASE_BYTES, model_bytes, pretrain


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "pretrain",
        help="train the base model (a Transformer) on the corpus store; run it again to resume",
        description="Train the base model that fine-tuning starts from (`train --finetune NAME`) on a token store "
        "of the pretraining corpus (`python -m musegen corpus build DIR`). The run goes to RUNS_DIR/NAME; "
        "a second call resumes it from last.keras with --minutes more. Progress goes to stderr with --json.",
    )
    p.add_argument("--store", required=True, metavar="DIR", help="the corpus token store")
    p.add_argument("--runs-dir", default=str(BASE_RUNS), help=f"where the run goes (default {BASE_RUNS})")
    p.add_argument("--name", default=BASE_NAME, help=f"the run's name; it must hold 'base' (default {BASE_NAME})")
    p.add_argument(
        "--minutes", type=float, default=BASE_MINUTES, help=f"this sitting's budget (default {BASE_MINUTES:g})"
    )
    p.add_argument("--fresh", action="store_true", help="start again, replacing a run of that name")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="another setting of a new run (a ModelConfig/TrainConfig field, window, stride or fim_rate)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object; progress goes to stderr")
    return p


def run(args: argparse.Namespace) -> int:
    out = sys.stderr if args.json else sys.stdout
    result = pretrain(
        args.store,
        args.runs_dir,
        args.name,
        args.minutes,
        on_progress=lambda e: print_event(e, out),
        fresh=args.fresh,
        **parse_settings(args.set),
    )
    size = model_bytes(result.run_dir)
    report = {
        "ok": True,
        "run_dir": str(result.run_dir),
        "status": result.status,
        "message": result.message,
        "epochs_done": result.epochs_done,
        "best_value": result.best_value,
        "model_bytes": size,
        "fits_bundle": size <= MAX_BASE_BYTES,
        "metrics": result.metrics.to_dict() if result.metrics else None,
    }
    if args.json:
        print_json(report)
        return 0
    print(f"{result.status}: {result.message}")
    print(f"model.keras {size / 1e6:.1f} MB" + ("" if size <= MAX_BASE_BYTES else " (over the 30 MB a bundle holds)"))
    if result.metrics:
        print(format_metrics(result.metrics))
    print(f"run folder: {result.run_dir}")
    return 0
