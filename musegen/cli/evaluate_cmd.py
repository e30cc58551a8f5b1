"""``python -m musegen evaluate RUN_DIR``: held-out metrics of a run beside the n-gram baseline; with
``--surprise FILE.mid`` (or ``--surprise-piece N``) the NLL of every note of one piece instead."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from musegen.cli import print_json
from musegen.config import Limits, SamplingConfig
from musegen.errors import ConfigError, MidiReadError
from musegen.evaluation.heldout import evaluate_run
from musegen.evaluation.quality import evaluate_music
from musegen.evaluation.report import format_metrics  # the table the app shows too; train_cmd prints it
from musegen.evaluation.surprise import TOP, Surprise, surprise_of_run
from musegen.sources.files import read_limited


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
    which = p.add_mutually_exclusive_group()
    which.add_argument(
        "--surprise",
        metavar="FILE.mid",
        help="instead of the held-out scoring: the NLL of every note of this MIDI file under the run's model "
        "(read with the run's data settings, moved by octaves to fit the model), beside the held-out mean",
    )
    which.add_argument(
        "--surprise-piece",
        type=int,
        metavar="N",
        help="the same for the run's stored piece N (0 is the first held-out piece, then the training pieces)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    return p


def run(args: argparse.Namespace) -> int:
    if args.surprise is not None or args.surprise_piece is not None:
        return run_surprise(args)
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


def run_surprise(args: argparse.Namespace) -> int:
    """``--surprise FILE`` / ``--surprise-piece N``: where the run's model is surprised by one piece."""
    if args.music:
        raise ConfigError("--music and --surprise are separate evaluations; run evaluate once for each.")
    if args.surprise is not None:
        path = Path(args.surprise)
        try:
            data = read_limited(path, Limits.from_env().max_file_mb)
        except MidiReadError as exc:
            raise MidiReadError(f"{path}: cannot score it: {exc}") from None
        result = surprise_of_run(args.run_dir, data, name=path.name)
    else:
        result = surprise_of_run(args.run_dir, args.surprise_piece)
    if args.json:
        print_json({"ok": True, "run_dir": args.run_dir, **result.to_dict()})
    else:
        print(format_surprise(result))
    return 0


def format_surprise(result: Surprise, top: int = TOP) -> str:
    """The piece's mean NLL beside the held-out mean, then its ``top`` most surprising notes."""
    unit = result.unit
    lines = [f"surprise of {result.label} under run {result.run_id}"]
    lines.append(f"  mean NLL {result.mean_nll:.4f} nats per {unit} over {result.targets} {unit}s")
    if result.heldout_nll is None:
        lines.append("  held-out mean: unknown (the run has no metrics.json; score it with `evaluate RUN_DIR`)")
    else:
        more = "more" if result.delta >= 0 else "less"
        lines.append(
            f"  held-out mean {result.heldout_nll:.4f} nats per {unit}: this piece surprises the model "
            f"{abs(result.delta):.4f} {more}"
        )
    rows = result.note_rows(result.top(top))
    if not rows:
        lines.append("  no note could be scored")
        return "\n".join(lines)
    lines.append(f"\n  the {len(rows)} most surprising notes (NLL: the nats of the {unit}s that make the note)")
    lines.append(f"  {'beat':>8}  {'note':<5}{'pitch':>6}{'NLL':>9}")
    lines += [f"  {r['start']:>8.2f}  {r['note']:<5}{r['pitch']:>6}{r['nll']:>9.3f}" for r in rows]
    return "\n".join(lines)
