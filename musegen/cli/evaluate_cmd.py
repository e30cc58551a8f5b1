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
    from musegen.evaluation import evaluate_run

    metrics = evaluate_run(args.run_dir)
    music = None
    if args.music:
        from musegen.config import SamplingConfig
        from musegen.quality import evaluate_music

        sampling = SamplingConfig(length=args.length, temperature=args.temperature, top_p=args.top_p, seed=0)
        music = evaluate_music(args.run_dir, pieces=args.music, sampling=sampling)
    if args.json:
        print_json({"ok": True, "run_dir": args.run_dir, "metrics": metrics, "music": music})
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
