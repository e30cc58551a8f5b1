"""Issue 31's deciding figure: fine-tuning the base model against training from scratch, in one budget.

``python -m benchmarks.bench_finetune [--base NAME|DIR] [--sets piano-10,piano-20,piano-50,chorales-20]
[--minutes 3,10] [--pieces 8] [--json OUT] [--keep DIR] [--scratch-from EARLIER.json]`` (``python -m benchmarks
finetune`` runs every set at both budgets: about an hour on 2 cores, as most runs stop early; ``--scratch-from``
takes the scratch side from an earlier ``--json``, to measure another fine-tuning against the same runs).

Each set is a small dataset a user might bring, and a fixed held-out set it is scored on:

- ``piano-N``: N of the real piano pieces (``../shared/data/piano/``, skipped where absent), drawn with a fixed
  seed from the 88 that the piano table trains on (so piano-10 lies inside piano-20, inside piano-50); scored
  on the table's 22 held-out pieces (:func:`benchmarks.piano_data.held_out_names`);
- ``chorales-N``: N of the built-in chorales that the base model trained on; scored on the chorales the base
  corpus held out (the store's split by a hash of the name): pieces neither model has seen.

Both runs read the pieces with the base model's data settings and vocabulary (``finetune_dataset``), so
they are scored on the same tokens, and both split the N pieces as a user's run does (a tenth for early
stopping). The fine-tuned run is what ``train --finetune`` trains (``finetune_config``: the base's model and
weights, Adam at 3e-4); the run from scratch is the strongest small model of the CPU comparisons (the
backbone benchmark's Transformer, 2 blocks of width 64 at 4e-3; it beat the larger default in 3 and 5
minutes). Each trains for the same wall-clock ``--minutes``, keeping its best epoch. Scored:

- the held-out NLL in nats per token of every held-out piece (``rep.score``), beside the n-gram floor
  fitted on the N pieces;
- the feature overlap (Yang & Lerch, ``PIANO_FEATURES``) of ``--pieces`` continuations of held-out openings
  (the piano table's seeds and sampling) with what the real pieces play next: the mean and the lowest.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.piano_data import PIANO, held_out_names, load_pieces, real_excerpts
from benchmarks.piano_row import Row, generate_row

EXPLICIT_ONLY = True  # needs a trained base model and about two hours
SETS = ("piano-10", "piano-20", "piano-50", "chorales-20")
MINUTES = (3.0, 10.0)
PIECES = 8  # continuations per model for the feature overlap
SECONDS = {"piano": 20.0, "chorales": 15.0}  # of music per continuation, and of each real excerpt
SUBSET_SEED = 0
SAMPLING: dict[str, Any] = {}  # the app's defaults, as in the piano table


def say(text: str) -> None:
    print(f"  {text}", flush=True)


# --------------------------------------------------------------------------- the sets


def base_held_out(base: Any, names: list[str]) -> set[str]:
    """Those of the built-in chorales ``names`` that the base's corpus held out: its store decides a piece's side
    from a hash of its name ("bach-chorales/bwv269"), with the base's split settings."""
    from musegen.sources.corpus import BUILTIN_NAME
    from musegen.streams.store import VAL, split_of

    data = base.config.data
    return {n for n in names if split_of(f"{BUILTIN_NAME}/{n}", data.val_fraction, data.split_seed) == VAL}


def load_set(name: str, base: Any) -> tuple[list[Any], list[Any]] | None:
    """The set's training pieces and its held-out pieces, or None where its data is absent."""
    kind, _, count = name.partition("-")
    n = int(count)
    if kind == "piano":
        if not PIANO.is_dir():
            say(f"{name}: skipped, {PIANO} is absent")
            return None
        pieces = load_pieces(pedal=True)
        held = set(held_out_names([p.name for p in pieces]))
        pool = [p for p in pieces if p.name not in held]
        return _draw(pool, n), [p for p in pieces if p.name in held]
    if kind == "chorales":
        from musegen.sources.corpus import load_builtin_corpus

        chorales = load_builtin_corpus()
        held = base_held_out(base, [p.name for p in chorales])
        pool = [p for p in chorales if p.name not in held]
        return _draw(pool, n), [p for p in chorales if p.name in held]
    raise ValueError(f"unknown set {name!r}; choose from {', '.join(SETS)}.")


def _draw(pool: list[Any], n: int) -> list[Any]:
    """``n`` pieces of ``pool`` in a fixed order (a larger draw holds every smaller one)."""
    order = np.random.default_rng(SUBSET_SEED).permutation(len(pool))
    return [pool[i] for i in order[:n]]


# --------------------------------------------------------------------------- the two runs


def scratch_config(finetune: Any, minutes: float) -> Any:
    """The run from scratch: the fine-tuned run's data settings, the CPU comparisons' small Transformer."""
    from benchmarks.bench_backbones import TRANSFORMER

    config = copy.deepcopy(finetune)
    config.base = ""
    config.model = copy.deepcopy(TRANSFORMER.model)
    config.train = replace(TRANSFORMER.train, max_minutes=minutes, seed=0)
    config.validate()
    return config


def train_one(config: Any, dataset: Any, folder: Path, name: str) -> tuple[Path, dict[str, Any]]:
    """Train ``config`` on ``dataset`` into ``folder/name``; the run folder and its training figures."""
    from musegen import runs
    from musegen.training.loop import train

    run_dir = runs.create_run(folder, config, dataset.vocab, name=name, overwrite=True)
    t0 = time.perf_counter()
    result = train(config, dataset, run_dir)
    info = runs.load_run(run_dir)
    figures = {
        "train_s": round(time.perf_counter() - t0, 1),
        "epochs": len(info.history.epochs),
        "best_epoch": info.history.best_epoch,
        "best_val_nll": info.history.best_value,
        "state": getattr(result, "state", ""),
    }
    return run_dir, figures


def score_heldout(run_dir: Path, held: list[Any], train_seqs: list[np.ndarray]) -> dict[str, float]:
    """The run's best model and the n-gram floor (fitted on ``train_seqs``) on every held-out piece, by
    ``evaluate_run`` (which then keeps these scores as the run's metrics.json)."""
    from musegen import runs
    from musegen.datasets.dataset import build_dataset
    from musegen.evaluation.heldout import evaluate_run

    info = runs.load_run(run_dir)
    data = replace(info.config.data, val_fraction=0.0, transpose=(0, 0))
    encoded = build_dataset(held, data, vocab=info.vocab())
    metrics = evaluate_run(run_dir, replace(encoded, train=list(train_seqs), val=encoded.train))
    return {"nll": float(metrics.model.nll), "floor": float(metrics.baseline.nll), "tokens": int(metrics.model.tokens)}


def overlap(run_dir: Path, held: list[Any], kind: str, pieces: int, label: str) -> dict[str, Any]:
    """The feature overlap of ``pieces`` continuations of held-out openings with the real continuations."""
    from musegen.metrics.music import PIANO_FEATURES, compare_sets

    seconds = SECONDS[kind]
    row = Row(label, "", True, True, "timed")
    names = [p.name for p in held]
    generated, gen_s, _ = generate_row(row, run_dir, held, names, pieces, seconds, SAMPLING, say)
    real = real_excerpts(held, seconds)
    comparison = compare_sets(generated, real, features=PIANO_FEATURES)
    # a feature the real pieces never vary (the chorales' velocities, all 80) has no distribution to overlap
    varying = [f for f in comparison.features if f.intra_real_mean > 0] or comparison.features
    lowest = min(varying, key=lambda f: f.overlap)
    return {
        "mean_overlap": round(comparison.mean_overlap, 3),
        "lowest_overlap": round(lowest.overlap, 3),
        "lowest_feature": lowest.feature,
        "generate_s": round(gen_s, 1),
    }


def run_pair(
    set_name: str, minutes: float, base: Any, sets: dict, folder: Path, pieces: int, earlier: dict | None = None
) -> dict[str, Any]:
    """Fine-tune and train from scratch on one set in one budget; both scored on the same held-out tokens.
    ``earlier`` ({(set, minutes): row} of an earlier run's JSON) gives the scratch side instead of training it
    again: it depends on neither the base's weights nor the fine-tuning settings, and is seeded."""
    from musegen.training.finetune import finetune_config, finetune_dataset

    train_pieces, held = sets[set_name]
    config = finetune_config(base, max_minutes=minutes)
    dataset, coverage = finetune_dataset(train_pieces, config, base)
    say(
        f"{set_name}, {minutes:g} min: {len(dataset.train)} training pieces ({dataset.n_train_tokens:,} tokens), "
        f"{len(dataset.val)} for early stopping, {len(held)} held out; {coverage.message()}"
    )
    row: dict[str, Any] = {
        "set": set_name,
        "minutes": minutes,
        "train_tokens": dataset.n_train_tokens,
        "unknown_share": round(coverage.share_unknown, 4),
        "held_out_pieces": len(held),
    }
    for label, cfg in (("finetune", config), ("scratch", scratch_config(config, minutes))):
        if label == "scratch" and earlier and (set_name, minutes) in earlier:
            row[label] = earlier[(set_name, minutes)][label]
            say(f"scratch: NLL {row[label]['nll']:.3f}, from the earlier run")
            continue
        name = f"{set_name}-{minutes:g}min-{label}"
        run_dir, figures = train_one(cfg, dataset, folder, name)
        figures.update(score_heldout(run_dir, held, dataset.train))
        figures.update(overlap(run_dir, held, set_name.partition("-")[0], pieces, name))
        say(
            f"{label}: NLL {figures['nll']:.3f} (floor {figures['floor']:.3f}), overlap mean "
            f"{figures['mean_overlap']:.3f} lowest {figures['lowest_overlap']:.3f} ({figures['lowest_feature']}), "
            f"{figures['epochs']} epochs"
        )
        row[label] = figures
    row["gain_nats"] = round(row["scratch"]["nll"] - row["finetune"]["nll"], 3)
    return row


# --------------------------------------------------------------------------- the table


def table(rows: list[dict[str, Any]]) -> str:
    """The markdown table of the pairs."""
    lines = [
        "| set | budget | NLL fine-tuned | NLL scratch | gain (nats/token) | floor | lowest overlap ft / scratch "
        "| mean overlap ft / scratch | epochs ft / scratch |",
        "|---|---:|---:|---:|---:|---:|---|---|---|",
    ]
    for r in rows:
        ft, sc = r["finetune"], r["scratch"]
        lines.append(
            f"| {r['set']} | {r['minutes']:g} min | {ft['nll']:.3f} | {sc['nll']:.3f} | {r['gain_nats']:+.3f} "
            f"| {ft['floor']:.3f} | {ft['lowest_overlap']:.3f} ({ft['lowest_feature']}) / "
            f"{sc['lowest_overlap']:.3f} ({sc['lowest_feature']}) | {ft['mean_overlap']:.3f} / "
            f"{sc['mean_overlap']:.3f} | {ft['epochs']} / {sc['epochs']} |"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_finetune", description=__doc__.split("\n")[0])
    parser.add_argument("--base", default="musegen-base", help="a bundled base's name or a run folder")
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--minutes", default=",".join(f"{m:g}" for m in MINUTES))
    parser.add_argument("--pieces", type=int, default=PIECES, help="continuations per model for the overlap")
    parser.add_argument("--json", help="write the rows to this file")
    parser.add_argument("--keep", help="keep the run folders here (default: a temporary folder)")
    parser.add_argument("--scratch-from", help="an earlier --json: its scratch rows, instead of training them again")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    from musegen.errors import MusegenError
    from musegen.training.finetune import resolve_base

    args = parse_args(argv if argv is not None else [])
    try:
        base = resolve_base(args.base)
    except MusegenError as exc:
        print(f"skipped: {exc}")
        return
    wanted = [s.strip() for s in args.sets.split(",") if s.strip()]
    loaded = {name: load_set(name, base) for name in wanted}
    sets = {name: value for name, value in loaded.items() if value is not None}
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-finetune-"))
    print(f"base {base.path}; threads {os.environ.get('MUSEGEN_TF_THREADS', 'all')}; runs in {folder}", flush=True)
    rows, earlier = [], None
    if args.scratch_from:
        old = json.loads(Path(args.scratch_from).read_text(encoding="utf-8"))
        earlier = {(r["set"], float(r["minutes"])): r for r in old}
    for minutes in (float(m) for m in args.minutes.split(",")):
        for name in sets:
            rows.append(run_pair(name, minutes, base, sets, folder, args.pieces, earlier))
            if args.json:
                Path(args.json).write_text(json.dumps(rows, indent=1), encoding="utf-8")
    print(table(rows))


if __name__ == "__main__":
    main(sys.argv[1:])
