"""WaveNet, LSTM and Transformer side by side: held-out NLL in one time budget, and generation speed.

Each backbone trains on timed tokens (128-token windows, stride 64) for at most
``BENCH_BACKBONES_MINUTES`` (default 5) minutes of wall-clock time on this machine, then its best
checkpoint is scored on the held-out pieces (NLL per token, beside the Kneser-Ney n-gram on the
same tokens and pieces), on two datasets (``BENCH_BACKBONES_DATA``, default both):

- ``chorales``: the built-in Bach chorales;
- ``piano``: the 110 real piano pieces of ``../shared/data/piano/`` (Chopin, Schumann, Haydn,
  Clementi; long, two hands, expressive timing), skipped with a note where that folder is absent.

The WaveNet and the LSTM use the training benchmark's settings (``bench_training.CONFIGS``); the
Transformer runs at two sizes (:data:`TRANSFORMER`, :data:`TRANSFORMER_DEFAULT`);
``BENCH_BACKBONES_ROWS`` picks some of the rows. Then, with the models trained on the first dataset, the
generation speed: milliseconds per token after a 128-token seed for 500 tokens, cold (the first
call, compiling the step) and warm (best of ``REPEATS``), and 8 variations in one batch against 1
(the Transformer's 500 tokens run past its 128-position cache, so the sliding cache is what is
timed). The machine's load average is printed (and, per row, its mean over the row's epochs):
the figures depend on what else runs.
"""

from __future__ import annotations

import copy
import os
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.bench_training import CONFIGS as TRAINING_CONFIGS
from musegen.config import DataConfig, ModelConfig, RunConfig, SamplingConfig, TrainConfig

ROOT = Path(__file__).resolve().parents[1]
PIANO = ROOT.parent / "shared" / "data" / "piano"
MINUTES = float(os.environ.get("BENCH_BACKBONES_MINUTES", "5"))
DATASETS = os.environ.get("BENCH_BACKBONES_DATA", "chorales,piano").split(",")
GEN_TOKENS = 500
SEED_TOKENS = 128
VARIATIONS = 8
REPEATS = 3  # warm timings: best of 3, 1 and 8 variations interleaved (a shared machine is noisy)

# The Transformer at two sizes. "transformer" is sized for a CPU budget, as the LSTM of the
# training benchmark is (2 x 128, not the default 2 x 256): the size of the small preset (2 blocks
# of width 64, 4 heads; 8 epochs on 64-token windows reached NLL 1.033 in 3 minutes, against the
# demo WaveNet's 1.114), at the rate that won there (4e-3 against 2e-3). "transformer-default" is
# the library's default size (4 blocks of width 128), which gets through one epoch of chorales
# in about 1.5 minutes on this CPU; it shows what the default costs here.
TRANSFORMER = RunConfig(
    data=DataConfig(window=128, stride=64),
    model=ModelConfig(arch="transformer", embed_dim=64, d_model=64, heads=4, transformer_layers=2, dropout=0.1),
    train=TrainConfig(epochs=200, batch_size=32, learning_rate=4e-3, patience=4),
)
TRANSFORMER_DEFAULT = RunConfig(
    data=DataConfig(window=128, stride=64),
    model=ModelConfig(arch="transformer", embed_dim=128),  # d_model 128, 4 heads, 4 blocks, ff 512
    train=TrainConfig(epochs=200, batch_size=32, learning_rate=2e-3, patience=4),
)
CONFIGS = {
    "wavenet": TRAINING_CONFIGS["wavenet"],
    "lstm": TRAINING_CONFIGS["lstm"],
    "transformer": TRANSFORMER,
    "transformer-default": TRANSFORMER_DEFAULT,
}
ROWS = os.environ.get("BENCH_BACKBONES_ROWS", ",".join(CONFIGS)).split(",")


def _pieces(name: str) -> list[Any] | None:
    """The dataset's pieces, or None (with a note) where it is absent."""
    if name == "chorales":
        from musegen.sources.corpus import load_builtin_corpus

        return load_builtin_corpus()
    if name == "piano":
        if not PIANO.is_dir():
            print(f"piano: skipped ({PIANO} is absent; it holds the 110 real piano pieces, see its README.md)\n")
            return None
        from musegen.sources.ingest import ingest_paths

        report = ingest_paths([PIANO], DataConfig())
        print(f"piano: {report.n_ok} of {len(report.results)} files read from {PIANO}")
        return report.pieces
    raise ValueError(f"unknown dataset {name!r}; choose chorales or piano.")


def _train(row: str, pieces: list[Any], folder: str) -> tuple[dict[str, Any], Any]:
    """Train the model of ``row`` (a key of :data:`CONFIGS`) within the budget; its table row and its best model."""
    from musegen import runs
    from musegen.datasets.dataset import build_dataset
    from musegen.training.loop import train

    cfg = copy.deepcopy(CONFIGS[row])
    cfg.train.max_minutes = MINUTES
    dataset = build_dataset(pieces, cfg.data)
    run_dir = runs.create_run(folder, cfg, dataset.vocab)
    speeds: list[float] = []
    loads: list[float] = []  # the machine's 1-minute load average at every epoch's end

    def progress(event):
        if event.kind == "epoch":
            loads.append(os.getloadavg()[0])
            if event.tokens_per_s:
                speeds.append(event.tokens_per_s)

    t0 = time.perf_counter()
    result = train(cfg, dataset, run_dir, on_progress=progress)
    seconds = time.perf_counter() - t0
    m = result.metrics.to_dict() if result.metrics else {}
    model = runs.load_run_model(run_dir, "best")
    scores = {
        "arch": row,
        "params": int(model.count_params()),
        "epochs": result.epochs_done,
        "best_epoch": result.best_epoch,
        "train_s": round(seconds),
        "nll": m.get("model", {}).get("nll"),
        "ppl": m.get("model", {}).get("perplexity"),
        "acc": m.get("model", {}).get("accuracy"),
        "ngram_nll": m.get("baseline", {}).get("nll"),
        "ngram_order": m.get("baseline", {}).get("order"),
        "tokens_per_s": max(speeds) if speeds else None,
        "load": sum(loads) / len(loads) if loads else os.getloadavg()[0],
        "train_tokens": int(sum(len(s) for s in dataset.train)),
        "val_pieces": len(dataset.val),
    }
    print(f"  {row}: {result.status}, {result.epochs_done} epochs, {seconds:.0f} s ({result.message})", flush=True)
    return scores, (model, dataset)


def _ms_per_token(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000.0 / GEN_TOKENS


def _generation(row: str, model: Any, dataset: Any) -> dict[str, Any]:
    """Cold and warm ms per token for 1 variation, and ms per step for 8, after a held-out seed."""
    from musegen.generation.decode import generate_ids

    seed = max(dataset.val, key=len)[:SEED_TOKENS]
    one = SamplingConfig(length=GEN_TOKENS, seed=0, temperature=1.0)
    many = SamplingConfig(length=GEN_TOKENS, seed=0, temperature=1.0, variations=VARIATIONS)
    cold = _ms_per_token(lambda: generate_ids(model, seed, one))
    _ms_per_token(lambda: generate_ids(model, seed, many))  # compiles the batch-of-8 step
    warm = batch = float("inf")
    for _ in range(REPEATS):
        warm = min(warm, _ms_per_token(lambda: generate_ids(model, seed, one)))
        batch = min(batch, _ms_per_token(lambda: generate_ids(model, seed, many)))
    return {"arch": row, "params": int(model.count_params()), "cold": cold, "warm": warm, "batch": batch}


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.1f} / {five:.1f} / {fifteen:.1f} (1 / 5 / 15 min) on {os.cpu_count()} cores"


def main() -> dict[str, Any]:
    report: dict[str, Any] = {"datasets": {}, "generation": []}
    print(f"budget {MINUTES:g} min per model; load average at the start {_load()}\n", flush=True)
    with tempfile.TemporaryDirectory(prefix="musegen-backbones-") as tmp:
        for name in DATASETS:
            pieces = _pieces(name)
            if pieces is None:
                continue
            rows, trained = [], {}
            for row in ROWS:
                scores, trained[row] = _train(row, pieces, tmp)
                rows.append(scores)
            report["datasets"][name] = rows
            print(f"\n### {name}: load average after training {_load()}\n")
            _print_training(rows)
            if not report["generation"]:
                print(f"\nGeneration after a {SEED_TOKENS}-token held-out {name} seed, {GEN_TOKENS} tokens:\n")
                report["generation"] = [_generation(row, *trained[row]) for row in ROWS]
                _print_generation(report["generation"])
            print(flush=True)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"load average at the end {_load()}; peak resident memory {peak_mb:.0f} MB")
    return report


def _print_training(rows: list[dict[str, Any]]) -> None:
    print(
        "| model | params | epochs (best) | time | held-out NLL | ppl | acc | n-gram NLL (order) | tokens/s "
        "| load | training tokens | held-out pieces |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['arch']} | {r['params']:,} | {r['epochs']} ({r['best_epoch']}) | {r['train_s']} s | {_f(r['nll'])} "
            f"| {_f(r['ppl'])} | {_f(r['acc'])} | {_f(r['ngram_nll'])} ({r['ngram_order']}) "
            f"| {r['tokens_per_s'] or 0:,.0f} | {r['load']:.1f} | {r['train_tokens']:,} | {r['val_pieces']} |"
        )


def _print_generation(rows: list[dict[str, Any]]) -> None:
    print(f"| model | params | cold ms/token | warm ms/token | {VARIATIONS} variations ms/step | {VARIATIONS} vs 1 |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['arch']} | {r['params']:,} | {r['cold']:.2f} | {r['warm']:.2f} | {r['batch']:.2f} "
            f"| {r['batch'] / r['warm']:.2f}x |"
        )


def _f(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


if __name__ == "__main__":
    main()
