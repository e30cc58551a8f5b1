"""The piano-roll family in one command: every set of :data:`musegen.experiments.jsb.SETS` in turn.

``python -m musegen benchmark poly`` runs :func:`musegen.experiments.jsb.run_benchmark` on JSB
Chorales, MuseData and Piano-midi.de (or the sets and ``.mat`` files it is given) with the same
architectures, budget and settings for every set: nothing is tuned per set, so a set of the family
it has never seen is trained with the very defaults these were. The report holds each set's own
report and a summary: every model's test NLL beside RNN-NADE's on the set and the best published row.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from musegen.experiments.jsb import ARCHS, DEFAULT_MINUTES, SETS, ProgressFn, format_report, run_benchmark

DEFAULT_SETS = tuple(SETS)


def run_family(
    sets: Sequence[str] = DEFAULT_SETS,
    archs: Sequence[str] = ARCHS,
    minutes: float = DEFAULT_MINUTES,
    *,
    runs_dir: str | None = None,
    on_progress: ProgressFn | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """Run the benchmark on every set of ``sets`` (names of SETS or .mat paths); the reports and a summary."""
    reports = []
    for name in sets:
        label = Path(name).stem if name.lower().endswith(".mat") else name
        tell = (lambda arch, event, n=label: on_progress(f"{n} {arch}", event)) if on_progress else None
        reports.append(run_benchmark(name, archs, minutes, runs_dir=runs_dir, on_progress=tell, **overrides))
    return {"minutes_per_arch": minutes, "sets": reports, "summary": summary(reports)}


def summary(reports: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (set, model): its test NLL, RNN-NADE's, the difference, and the best published figure."""
    rows = []
    for report in reports:
        best = min(report["published"], key=lambda r: r["nll"], default=None)
        for m in report["models"]:
            nade = report.get("rnn_nade")
            rows.append(
                {
                    "dataset": report["dataset"],
                    "arch": m["arch"],
                    "test_nll": m["test_nll"],
                    "rnn_nade": nade,
                    "below_rnn_nade": None if nade is None else m["test_nll"] < nade,
                    "best_published": None if best is None else {k: best[k] for k in ("model", "nll", "kind")},
                    "peak_rss_mb": m.get("peak_rss_mb"),
                    "train_seconds": m["train_seconds"],
                }
            )
    return rows


def format_family(report: dict[str, Any]) -> str:
    """Each set's table (:func:`format_report`), then the summary table across the family."""
    parts = [format_report(r) for r in report["sets"]]
    lines = [
        f"The family at {report['minutes_per_arch']:g} min per model:",
        "",
        "| set | model | test NLL | RNN-NADE | best published | peak memory |",
        "|---|---|---:|---:|---|---:|",
    ]
    for row in report["summary"]:
        nade = "" if row["rnn_nade"] is None else f"{row['rnn_nade']:.2f}"
        best = row["best_published"]
        shown = "" if best is None else f"{best['model']} {'≤ ' if best['kind'] == 'bound' else ''}{best['nll']:.2f}"
        lines.append(
            f"| {row['dataset']} | {row['arch']} | **{row['test_nll']:.3f}** | {nade} | {shown} | "
            f"{row['peak_rss_mb'] or 0:,.0f} MB |"
        )
    return "\n\n".join([*parts, "\n".join(lines)])
