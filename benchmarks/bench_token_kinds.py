"""Where a token model's held-out NLL goes: nats per token of each kind (Pitch, Velocity, Duration, ...).

``python -m benchmarks.bench_token_kinds --set piano-20 RUN_DIR [RUN_DIR ...]`` scores each run's best model on
a ``bench_finetune`` set's held-out pieces, with the run's own data settings, on the targets ``rep.score``
scores (every window as in :func:`musegen.scoring.likelihood.score_sequence`), and splits the NLL by the
token's kind: its name up to the last ``_``. It shows what a fine-tuned run gains over one from scratch, and
where it does not (the base model never heard a velocity other than 80).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

EXPLICIT_ONLY = True  # needs kept run folders of bench_finetune


def kind_of(token: str) -> str:
    return token.rsplit("_", 1)[0] if "_" in token and not token.startswith("<") else token


def by_kind(run_dir: Path, held: list) -> dict[str, tuple[float, int]]:
    """{kind: (nats in all, targets)} of the run's best model on ``held``."""
    from musegen import runs
    from musegen.datasets.dataset import build_dataset
    from musegen.scoring.likelihood import scored_batches

    info = runs.load_run(run_dir)
    encoded = build_dataset(held, replace(info.config.data, val_fraction=0.0, transpose=(0, 0)), vocab=info.vocab())
    kinds = np.array([kind_of(t) for t in info.vocab().tokens])
    model = runs.load_run_model(run_dir, "best")
    totals: dict[str, list[float]] = {}
    for logp, y, w in scored_batches(model, encoded.train, info.config.data.window):
        nats = -np.take_along_axis(logp, y[..., None], axis=-1)[..., 0]
        counted, target_kinds = w > 0, kinds[y]
        for kind in np.unique(target_kinds[counted]):
            mask = (target_kinds == kind) & counted
            total = totals.setdefault(str(kind), [0.0, 0])
            total[0] += float(nats[mask].sum())
            total[1] += int(mask.sum())
    return {k: (v[0], int(v[1])) for k, v in totals.items()}


def table(results: dict[str, dict[str, tuple[float, int]]]) -> str:
    """A markdown table: one row per kind (its share of the targets), one column per run."""
    first = next(iter(results.values()))
    n = sum(c for _, c in first.values())
    names = list(results)
    lines = ["| token kind (share) | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for kind in sorted(first, key=lambda k: -first[k][1]):
        cells = [f"{results[r][kind][0] / results[r][kind][1]:.3f}" if kind in results[r] else "-" for r in names]
        lines.append(f"| {kind} ({first[kind][1] / n:.1%}) | " + " | ".join(cells) + " |")
    alls = [f"{sum(s for s, _ in results[r].values()) / n:.3f}" for r in names]
    lines.append("| all | " + " | ".join(alls) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    from benchmarks.bench_finetune import load_set
    from musegen.training.finetune import resolve_base

    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_token_kinds", description=__doc__.split("\n")[0])
    parser.add_argument("--set", default="piano-20", help="a bench_finetune set, for its held-out pieces")
    parser.add_argument("--base", default="musegen-base")
    parser.add_argument("runs", nargs="*", help="run folders")
    args = parser.parse_args(argv if argv is not None else [])
    loaded = load_set(args.set, resolve_base(args.base)) if args.runs else None
    if loaded is None:
        print("skipped: give run folders (bench_finetune --keep DIR) and a set whose data is here")
        return
    results = {Path(r).name: by_kind(Path(r), loaded[1]) for r in args.runs}
    print(table(results))


if __name__ == "__main__":
    main(sys.argv[1:])
