"""``python -m musegen evaluate RUN_DIR``: held-out metrics of a run beside the n-gram baseline."""

from __future__ import annotations

import argparse
from typing import Any

from musegen.cli import print_json


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "evaluate",
        help="score a run's best model and the n-gram baseline on the validation pieces",
        description="Score RUN_DIR/model.keras on the run's held-out pieces (NLL per token in nats, perplexity, "
        "top-1 accuracy) beside an n-gram baseline on the same tokens; writes RUN_DIR/metrics.json.",
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run folder, e.g. runs/20250101-120000-wavenet-1a2b3c")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    return p


def run(args: argparse.Namespace) -> int:
    from musegen.evaluation import evaluate_run

    metrics = evaluate_run(args.run_dir)
    if args.json:
        print_json({"ok": True, "run_dir": args.run_dir, "metrics": metrics})
    else:
        print(format_metrics(metrics))
    return 0


def format_metrics(metrics: dict[str, Any]) -> str:
    """A small table: the model, the n-gram baseline and the uniform guess."""
    m, b = metrics["model"], metrics["baseline"]
    rows = [
        ("", "NLL", "perplexity", "accuracy"),
        (metrics["arch"], f"{m['nll']:.4f}", f"{m['perplexity']:.2f}", f"{m['accuracy']:.3f}"),
        (f"{b['order']}-gram", f"{b['nll']:.4f}", f"{b['perplexity']:.2f}", f"{b['accuracy']:.3f}"),
        ("uniform", f"{metrics['uniform_nll']:.4f}", f"{metrics['vocab_size']}", ""),
    ]
    lines = [f"{a:<16}{n:>10}{p:>12}{c:>10}" for a, n, p, c in rows]
    verdict = "beats" if metrics["beats_baseline"] else "does not beat"
    lines.append(
        f"held out: {metrics['val_pieces']} pieces, {metrics['val_tokens']} tokens "
        f"({metrics['representation']}); the model {verdict} the n-gram baseline."
    )
    return "\n".join(lines)
