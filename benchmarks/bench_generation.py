"""Generation speed: milliseconds per token, musegen's incremental decoder vs the tutorial's loop.

The same default-size ``wavenet`` and ``lstm`` (randomly initialised: speed does not depend on
the weights) continue a 128-token seed from a real chorale (timed tokens) for 500 tokens:

- musegen: :func:`musegen.steering.sampling.generate_ids` (compiled incremental step, cached state);
  the first call includes tracing and XLA-compiling the step ("cold"); later calls reuse it
  ("warm", best of 5 runs);
- tutorial: :func:`musegen.steering.sampling.generate_ids_predict_loop`, ``model.predict`` on the last
  128 tokens once per token.

Also 8 variations in one batch against 1. Goals (issue 5): at least 25x faster than the
tutorial's loop; 8 variations at most 2x the cost of one. All ratios come from one run.
"""

from __future__ import annotations

import time

import numpy as np

TOKENS = 500
WINDOW = 128
VARIATIONS = 8
REPEATS = 5  # musegen's runs are short: best of 5 against the noise of a shared machine


def _seed_and_vocab() -> tuple[np.ndarray, int]:
    from musegen.config import DataConfig
    from musegen.datasets.dataset import build_dataset
    from musegen.sources.corpus import load_builtin_corpus

    data = build_dataset(load_builtin_corpus(limit=40), DataConfig())
    seed = max(data.val + data.train, key=len)[:WINDOW]
    return seed, len(data.vocab)


def _ms_per_token(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000.0 / TOKENS


def main() -> list[dict]:
    import keras

    from musegen.config import ModelConfig, SamplingConfig
    from musegen.generation.decode import generate_ids, generate_ids_predict_loop
    from musegen.models import build_model

    seed, vocab_size = _seed_and_vocab()
    one = SamplingConfig(length=TOKENS, seed=0, temperature=1.0)
    many = SamplingConfig(length=TOKENS, seed=0, temperature=1.0, variations=VARIATIONS)
    rows: list[dict] = []
    print(f"{TOKENS} tokens after a {len(seed)}-token chorale seed, vocabulary {vocab_size}\n")
    print("| model | params | musegen cold ms/tok | musegen warm ms/tok | predict loop ms/tok | speed-up | "
          f"{VARIATIONS} var. ms/step | {VARIATIONS} var. / 1 |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for arch in ("wavenet", "lstm"):
        keras.utils.set_random_seed(0)
        model = build_model(ModelConfig(arch=arch), vocab_size, WINDOW)
        cold = _ms_per_token(lambda m=model: generate_ids(m, seed, one))
        _ms_per_token(lambda m=model: generate_ids(m, seed, many))  # compiles the batch-of-8 step
        warm, batch = float("inf"), float("inf")
        for _ in range(REPEATS):  # interleaved, so that 1 and 8 variations see the same machine load
            warm = min(warm, _ms_per_token(lambda m=model: generate_ids(m, seed, one)))
            batch = min(batch, _ms_per_token(lambda m=model: generate_ids(m, seed, many)))
        slow = _ms_per_token(lambda m=model: generate_ids_predict_loop(m, seed, one, window=WINDOW))
        row = {
            "model": arch,
            "params": model.count_params(),
            "musegen_cold_ms": cold,
            "musegen_warm_ms": warm,
            "predict_loop_ms": slow,
            "speedup": slow / warm,
            "variations_ms": batch,
            "variations_ratio": batch / warm,
        }
        rows.append(row)
        print(f"| {arch} | {row['params']:,} | {cold:.2f} | {warm:.2f} | {slow:.1f} | {row['speedup']:.0f}x | "
              f"{batch:.2f} | {row['variations_ratio']:.2f}x |")  # fmt: skip
    print(f"\nGoals: speed-up >= 25x; {VARIATIONS} variations <= 2x one variation.")
    return rows


if __name__ == "__main__":
    main()
