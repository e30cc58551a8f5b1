"""What people read about trained runs: the held-out table and its verdict, one row per run, music statistics.

One implementation for the app and the command line: the Train and Runs pages and
``python -m musegen evaluate`` show the same three rows (the model, its representation's
floor, a uniform guess) in the representation's unit, with the perplexity per key for frames.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from musegen.config import DataConfig
from musegen.errors import ConfigError
from musegen.metrics.music import PieceStats
from musegen.records import Metrics
from musegen.representations.base import Representation
from musegen.representations.registry import for_config, get
from musegen.runs import RunInfo

METRIC_COLUMNS = ("model", "NLL", "perplexity", "accuracy")


def representation_of(metrics: Metrics) -> Representation:
    """The representation the metrics were measured in (its unit, floor and help texts)."""
    return for_config(DataConfig(representation=metrics.representation))


def metric_rows(metrics: Metrics) -> list[dict[str, Any]]:
    """The model, the floor and a uniform guess: NLL, perplexity and accuracy (keys: METRIC_COLUMNS)."""
    rep = representation_of(metrics)
    m, b = metrics.model, metrics.baseline
    return [
        {"model": metrics.model_label, "NLL": m.nll, "perplexity": m.perplexity, "accuracy": m.accuracy},
        {
            "model": rep.floor_label(dataclasses.asdict(b)),
            "NLL": b.nll,
            "perplexity": b.perplexity,
            "accuracy": b.accuracy,
        },
        {
            "model": "uniform guess",
            "NLL": metrics.uniform_nll,
            "perplexity": math.exp(metrics.uniform_nll / rep.perplexity_per),  # per key for frames: 2
            "accuracy": None,
        },
    ]


def floor_name(metrics: Metrics) -> str:
    """The floor's name without its order: "n-gram baseline" whatever n the n-gram took."""
    rep = representation_of(metrics)
    return rep.floor_label({**dataclasses.asdict(metrics.baseline), "order": "n"})


def held_out_summary(metrics: Metrics, strong: Callable[[str], str] = str) -> str:
    """One sentence: how much was held out and whether the model beats its floor (``strong`` marks the key words)."""
    rep = representation_of(metrics)
    verdict = "beats" if metrics.beats_baseline else "does not beat yet"
    held = strong(f"{metrics.val_pieces} pieces, {metrics.val_tokens:,} {rep.units}")
    return f"Held out: {held}. The model {strong(verdict)} the {floor_name(metrics)} (lower NLL is better)."


def format_metrics(metrics: Metrics) -> str:
    """The held-out table as text for a terminal (``python -m musegen evaluate`` and ``train``), and the summary."""
    rows = metric_rows(metrics)
    head = f"{metrics.representation}, per {representation_of(metrics).unit}"
    width = max(len(head), *(len(row["model"]) for row in rows)) + 2
    lines = [f"{head:<{width}}{'NLL':>10}{'perplexity':>12}{'accuracy':>10}"]
    for row in rows:
        accuracy = "" if row["accuracy"] is None else f"{row['accuracy']:.3f}"
        lines.append(f"{row['model']:<{width}}{row['NLL']:>10.4f}{row['perplexity']:>12.2f}{accuracy:>10}")
    lines.append(held_out_summary(metrics))
    return "\n".join(lines)


def run_summary(info: RunInfo) -> str:
    """One line about a trained run: "wavenet · timed tokens · window 64 · trained on bach-chorales · 12 epochs"."""
    if info.config is None:
        return info.message or info.status
    cfg, best = info.config, info.best_val_loss
    score = f" · best loss {best:.3f}" if best is not None else ""
    return (
        f"{cfg.model.label} · {cfg.data.representation} {for_config(cfg.data).unit_name} · window {cfg.data.window} · "
        f"trained on {cfg.dataset_name} · {info.epochs_done} epochs{score}"
    )


def run_row(info: RunInfo, demo: bool = False) -> dict[str, Any]:
    """One row of a table of runs: settings, training and held-out scores beside the floor's."""
    cfg, metrics = info.config, info.metrics
    return {
        "run": info.run_id,
        "status": "demo" if demo else info.status,
        "model": f"{cfg.model.label} · {cfg.data.representation}" if cfg else "",
        "dataset": cfg.dataset_name if cfg else "",
        "started from": Path(cfg.base).name if cfg and cfg.base else "scratch",
        "epochs": info.epochs_done,
        "best loss": info.best_val_loss,
        "held-out NLL": metrics.model.nll if metrics else None,
        "accuracy": metrics.model.accuracy if metrics else None,
        "floor NLL": metrics.baseline.nll if metrics else None,
        "beats floor": metrics.beats_baseline if metrics else None,
    }


# ------------------------------------------------------------------ music statistics


@dataclass(frozen=True)
class MusicColumn:
    """One column of the music statistics table: a PieceStats field, its name, number format and meaning."""

    field: str
    label: str
    format: str = ""  # printf-style for numbers; "" for text
    help: str | None = None


MUSIC_COLUMNS = (
    MusicColumn("n_notes", "notes", "%d"),
    MusicColumn("scale_consistency", "in scale", "%.2f", "share of notes in the best-fitting scale"),
    MusicColumn("best_scale", "key"),
    MusicColumn("pitch_class_entropy", "pitch-class entropy", "%.2f", "bits; higher = more pitch classes"),
    MusicColumn("polyphony", "polyphony", "%.2f", "mean notes sounding at once"),
    MusicColumn("pitch_range", "range", "%d"),
    MusicColumn("distinct_ngram_ratio", "distinct 4-grams", "%.2f", "low = loops"),
    MusicColumn("longest_repeat_share", "longest repeat", "%.2f", "share of the longest repeated segment"),
)


def music_rows(generated: Sequence[PieceStats], real: Sequence[PieceStats] = ()) -> list[dict[str, Any]]:
    """One row per generated piece, then the mean of the real pieces (its text columns, the key, left empty)."""
    rows = [{"piece": s.name, **{c.label: getattr(s, c.field) for c in MUSIC_COLUMNS}} for s in generated]
    if real:
        numbers = [c for c in MUSIC_COLUMNS if c.format]
        mean = {c.label: sum(getattr(s, c.field) for s in real) / len(real) for c in numbers}
        empty = {c.label: "" for c in MUSIC_COLUMNS if not c.format}
        rows.append({"piece": f"real music (mean of {len(real)})", **mean, **empty})
    return rows


def loss_unit(infos: list[RunInfo]) -> str:
    """What the losses of these runs are per, for a chart's axis: their common unit, or both."""
    units = set()
    for info in infos:
        try:
            units.add(get(info.config.data.representation).unit if info.config else "token")
        except ConfigError:
            units.add("token")
    return units.pop() if len(units) == 1 else " or ".join(sorted(units))
