"""``python -m musegen evaluate RUN_DIR``: held-out metrics of a run beside the n-gram baseline."""

from __future__ import annotations

import argparse
from typing import Any

from musegen.cli import print_json
from musegen.config import SamplingConfig
from musegen.evaluation.heldout import evaluate_run
from musegen.evaluation.quality import evaluate_music
from musegen.evaluation.report import format_metrics  # the table the app shows too; train_cmd prints it


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "evaluate",
        help="score a run's best model and the n-gram baseline on the validation pieces",
        description="Score RUN_DIR/model.keras on the run's held-out pieces (NLL per token in nats, perplexity, "
        "top-1 accuracy) beside an n-gram baseline on the same tokens; writes RUN_DIR/metrics.json.",
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run folder, e.g. runs/20250101-120000-wavenet-1a2b3c")
    p.add_argument(
        "--music",
        type=int,
        metavar="N",
        default=0,
        help="also generate from N held-out seeds and compare the music with held-out pieces (Yang & Lerch)",
    )
    p.add_argument("--length", type=int, default=256, help="tokens generated per seed with --music (default 256)")
    p.add_argument("--temperature", type=float, default=1.0, help="sampling temperature with --music (0 = greedy)")
    p.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling mass with --music")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    return p


def run(args: argparse.Namespace) -> int:
    metrics = evaluate_run(args.run_dir)
    music = None
    if args.music:
        sampling = SamplingConfig(length=args.length, temperature=args.temperature, top_p=args.top_p, seed=0)
        music = evaluate_music(args.run_dir, pieces=args.music, sampling=sampling)
    if args.json:
        print_json({"ok": True, "run_dir": args.run_dir, "metrics": metrics.to_dict(), "music": music})
    else:
        print(format_metrics(metrics))
        if music:
            print(format_music(music))
    return 0


def format_music(music: dict[str, Any]) -> str:
    """Generated against held-out music: per-feature overlap, and a few means side by side."""
    lines = [f"\nmusic: {len(music['overlaps'])} features, mean overlap {music['mean_overlap']:.3f} (1 = alike)"]
    lines += [f"  {row['feature']:<24}{row['overlap']:>8.3f}" for row in music["overlaps"]]
    lines.append(f"\n  {'':<24}{'generated':>12}{'held-out':>12}")
    for name, value in music["generated"].items():
        lines.append(f"  {name:<24}{value:>12.3f}{music['real'][name]:>12.3f}")
    return "\n".join(lines)
