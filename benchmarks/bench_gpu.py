"""Training-step throughput on whatever accelerators this machine has: precision x XLA x devices.

Runs unchanged on a CPU-only machine, on one GPU and on several::

    python -m benchmarks gpu                      # through the benchmark runner
    python benchmarks/bench_gpu.py --json OUT.json  # alone, figures also as JSON
    BENCH_GPU_ARCHS=wavenet BENCH_GPU_STEPS=50 python benchmarks/bench_gpu.py

For each backbone (WaveNet, LSTM, Transformer, at the sizes a user trains on timed tokens) it
builds the model the way ``musegen train`` does (``Representation.build_model``: the same loss,
optimizer, precision policy and ``jit_compile``), then times ``model.fit`` on synthetic batches of
token windows already on the device, so the figure is the step itself, not the input pipeline
(``bench_corpus`` measures that). Rows:

- precision ``float32`` / ``mixed_float16`` (16-bit compute, Keras' loss scaling; GPUs only:
  CPUs have no fast float16 kernels) and ``mixed_bfloat16``;
- XLA off / on (``--xla``; Keras' "auto" means on for a GPU);
- one device, and ``MirroredStrategy`` over every GPU when there are several (the global batch
  grows with the replicas, as ``batch_size`` is per replica).

Reported: ms per step (median over the timed steps after ``BENCH_GPU_WARMUP`` steps), tokens per
second, the speed-up in tokens per second over float32 without XLA on one device, and the final loss (so a
precision that diverges shows).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: the repository root on the path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from musegen.config import DataConfig, ModelConfig, RunConfig, TrainConfig

ARCHS = os.environ.get("BENCH_GPU_ARCHS", "wavenet,lstm,transformer").split(",")
STEPS = int(os.environ.get("BENCH_GPU_STEPS", "30"))
WARMUP = int(os.environ.get("BENCH_GPU_WARMUP", "5"))

# Sizes a user trains on a GPU (bigger than the demo models, which are sized for 2 CPU cores).
MODELS = {
    "wavenet": ModelConfig(arch="wavenet", embed_dim=128, channels=128, skip_channels=128, stacks=2),
    "lstm": ModelConfig(arch="lstm", embed_dim=128, units=512, layers=2),
    "transformer": ModelConfig(arch="transformer", d_model=256, heads=4, transformer_layers=4),
}


def devices() -> tuple[list[str], str]:
    """(GPU names, a one-line description of the machine's accelerators)."""
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    if not gpus:
        return [], "no GPU (CPU only)"
    names = []
    for gpu in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(gpu)
        names.append(str(details.get("device_name", gpu.name)))
    return [g.name for g in gpus], f"{len(gpus)} GPU: " + ", ".join(names)


def timed_vocabulary():
    """The timed tokens' vocabulary of four chorales (the real sizes: ids past it do not matter here)."""
    from musegen.datasets.dataset import build_dataset
    from musegen.sources.corpus import load_builtin_corpus

    return build_dataset(load_builtin_corpus(limit=4), DataConfig()).vocab


def settings(gpus: int) -> list[tuple[str, str, str]]:
    """(precision, jit_compile, distribute) rows worth timing on this machine."""
    precisions = ["float32", "mixed_float16", "mixed_bfloat16"] if gpus else ["float32", "mixed_bfloat16"]
    rows = [(p, x, "") for p in precisions for x in ("off", "on")]
    if gpus > 1:  # Keras does not XLA-compile under tf.distribute
        rows += [(p, "off", "mirrored") for p in ("float32", "mixed_float16")]
    return rows


def time_steps(
    arch: str, precision: str, jit: str, distribute: str, batch: int, window: int
) -> dict[str, float | int | str]:
    """Build the model as ``train`` does and time ``STEPS`` training steps on device-resident batches."""
    import keras
    import numpy as np
    import tensorflow as tf

    from musegen.representations.registry import for_vocab
    from musegen.training.distribute import make_strategy

    config = RunConfig(
        data=DataConfig(window=window),
        model=MODELS[arch],
        train=TrainConfig(batch_size=batch, learning_rate=1e-3, precision=precision, jit_compile=jit),
    )
    vocab = timed_vocabulary()
    keras.utils.set_random_seed(0)
    strategy = make_strategy(distribute)
    replicas = strategy.num_replicas_in_sync
    global_batch = batch * replicas
    rng = np.random.default_rng(0)
    ids = rng.integers(4, len(vocab), size=(global_batch * 4, window + 1)).astype(np.int32)
    x, y, w = ids[:, :-1], ids[:, 1:], np.ones((len(ids), window), np.float32)
    ds = tf.data.Dataset.from_tensor_slices((x, y, w)).batch(global_batch, drop_remainder=True).cache().repeat()
    with strategy.scope():
        model = for_vocab(vocab).build_model(config)

    times: list[float] = []

    class Clock(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            self.t = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            times.append(time.perf_counter() - self.t)

    hist = model.fit(
        ds.prefetch(2), epochs=1, steps_per_epoch=WARMUP + STEPS, callbacks=[Clock()], verbose=0, shuffle=False
    )
    ms = statistics.median(times[WARMUP:]) * 1000
    return {
        "arch": arch,
        "precision": precision,
        "xla": jit,
        "strategy": distribute or "one device",
        "replicas": replicas,
        "global_batch": global_batch,
        "params": int(model.count_params()),
        "ms_per_step": round(ms, 2),
        "tokens_per_s": round(global_batch * window / (ms / 1000)),
        "loss": round(float(hist.history["loss"][-1]), 4),
    }


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="also write the rows to this JSON file")
    parser.add_argument("--batch", type=int, help="windows per replica (default 64 on a GPU, 16 on CPU)")
    parser.add_argument("--window", type=int, default=256, help="tokens per window (default 256)")
    args = parser.parse_args(argv or [])

    from musegen.tf_setup import configure_tensorflow

    configure_tensorflow()
    gpus, described = devices()
    batch = args.batch or (64 if gpus else 16)
    print(f"accelerators: {described}; batch {batch} per replica, window {args.window}, {STEPS} timed steps\n")
    rows = []
    for arch in ARCHS:
        base = None  # float32 without XLA on one device: what every speed-up is against
        for precision, jit, distribute in settings(len(gpus)):
            try:
                row = time_steps(arch, precision, jit, distribute, batch, args.window)
            except Exception as exc:  # a setting this machine cannot run is a row that says why
                row = {"arch": arch, "precision": precision, "xla": jit, "strategy": distribute or "one device"}
                row["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
            if "tokens_per_s" in row:
                if (precision, jit, distribute) == ("float32", "off", ""):
                    base = row["tokens_per_s"]
                row["speedup"] = round(row["tokens_per_s"] / base, 2) if base else None
            rows.append(row)
            print(_line(row), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"accelerators": described, "rows": rows}, indent=2))
    return rows


def _line(row: dict) -> str:
    if "error" in row:
        return f"| {row['arch']} | {row['precision']} | {row['xla']} | {row['strategy']} | {row['error']} |"
    speed = f"{row['speedup']}x" if row.get("speedup") else ""
    return (
        f"| {row['arch']} | {row['precision']} | {row['xla']} | {row['strategy']} x{row['replicas']} | "
        f"{row['ms_per_step']} ms | {row['tokens_per_s']:,} tok/s | {speed} | loss {row['loss']} |"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
