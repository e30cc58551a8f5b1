"""Training quality and throughput on the built-in Bach chorales, each model within a time budget.

Trains ``wavenet`` and ``lstm`` on the default ``timed`` tokens, and the tutorial's
``classic-wavenet`` and ``classic-lstm`` on its ``classic`` tokens, each for at most
``BENCH_TRAIN_MINUTES`` (default 5) minutes on this machine, then reports the held-out NLL per
token, perplexity and top-1 accuracy of the best checkpoint beside the interpolated
Kneser-Ney n-gram on the same tokens and the same validation pieces, and the training
throughput (input tokens per second).
"""

from __future__ import annotations

import os
import resource
import tempfile
import time

from musegen.config import DataConfig, ModelConfig, RunConfig, TrainConfig

MINUTES = float(os.environ.get("BENCH_TRAIN_MINUTES", "5"))
ARCHS = os.environ.get("BENCH_TRAIN_ARCHS", "wavenet,lstm,classic-wavenet,classic-lstm").split(",")

# The settings of each benchmark run: the library defaults, except where a comment says why.
CONFIGS = {
    "wavenet": RunConfig(
        data=DataConfig(window=128, stride=64),
        model=ModelConfig(arch="wavenet"),  # 64 residual channels, dilations 1..64, receptive field 129
        train=TrainConfig(epochs=200, batch_size=32, learning_rate=2e-3, patience=4),
    ),
    "lstm": RunConfig(
        data=DataConfig(window=128, stride=64),
        # Two stacked layers of 128: 2 x 256 runs at a fifth of the speed on 2 CPU cores and gets
        # only 5 epochs in 5 minutes (measured: NLL 1.48, above the n-gram).
        model=ModelConfig(arch="lstm", units=128, layers=2),
        train=TrainConfig(epochs=200, batch_size=32, learning_rate=5e-3, patience=4),
    ),
    # The tutorial's recipe: classic tokens, 128-event windows, one target per window.
    "classic-wavenet": RunConfig(
        data=DataConfig(representation="classic", window=128, stride=1),
        model=ModelConfig(arch="classic-wavenet"),
        train=TrainConfig(epochs=200, batch_size=128, learning_rate=1e-3, patience=4),
    ),
    "classic-lstm": RunConfig(
        data=DataConfig(representation="classic", window=128, stride=1),
        model=ModelConfig(arch="classic-lstm"),
        train=TrainConfig(epochs=200, batch_size=128, learning_rate=1e-3, patience=4),
    ),
}


def main() -> list[dict]:
    from musegen import runs
    from musegen.datasets.dataset import build_dataset
    from musegen.sources.corpus import load_builtin_corpus
    from musegen.streams.windows import classic_coverage
    from musegen.training.loop import train

    pieces = load_builtin_corpus()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for arch in ARCHS:
            cfg = CONFIGS[arch]
            cfg.train.max_minutes = MINUTES
            dataset = build_dataset(pieces, cfg.data)
            run_dir = runs.create_run(tmp, cfg, dataset.vocab)
            speeds: list[float] = []

            def progress(event, speeds=speeds):
                if event.kind == "epoch" and event.tokens_per_s:
                    speeds.append(event.tokens_per_s)

            t0 = time.perf_counter()
            result = train(cfg, dataset, run_dir, on_progress=progress)
            seconds = time.perf_counter() - t0
            m = result.metrics.to_dict() if result.metrics else {}
            model, base = m.get("model", {}), m.get("baseline", {})
            rows.append(
                {
                    "arch": arch,
                    "tokens": cfg.data.representation,
                    "epochs": result.epochs_done,
                    "train_s": round(seconds),
                    "nll": model.get("nll"),
                    "ppl": model.get("perplexity"),
                    "acc": model.get("accuracy"),
                    "ngram_nll": base.get("nll"),
                    "ngram_order": base.get("order"),
                    "ngram_acc": base.get("accuracy"),
                    "uniform_nll": m.get("uniform_nll"),
                    "tokens_per_s": max(speeds) if speeds else None,
                    "pieces_used": classic_coverage(dataset.train, cfg.data.window)
                    if arch.startswith("classic")
                    else 1.0,
                }
            )
            print(f"  {arch}: {result.status} after {result.epochs_done} epochs, {seconds:.0f} s", flush=True)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nbudget {MINUTES:g} min per model; peak resident memory {peak_mb:.0f} MB\n")
    print(
        "| model | tokens | epochs | time | held-out NLL | ppl | acc | n-gram NLL (order) | n-gram acc | "
        "uniform NLL | tokens/s | pieces trained on |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['arch']} | {r['tokens']} | {r['epochs']} | {r['train_s']} s | {_f(r['nll'])} | {_f(r['ppl'])} | "
            f"{_f(r['acc'])} | {_f(r['ngram_nll'])} ({r['ngram_order']}) | {_f(r['ngram_acc'])} | "
            f"{_f(r['uniform_nll'])} | {r['tokens_per_s'] or 0:,.0f} | {100 * r['pieces_used']:.0f}% |"
        )
    return rows


def _f(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


if __name__ == "__main__":
    main()
