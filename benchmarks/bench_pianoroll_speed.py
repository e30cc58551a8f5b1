"""Training speed of the piano-roll models (issue 32): real frames per second of a training step.

For each model of :data:`musegen.experiments.jsb.SETTINGS` (``--models``), a child process builds the
model as the JSB benchmark does (:func:`musegen.experiments.jsb.benchmark_config`, the representation's
``build_model``: Adam, :class:`musegen.models.FrameNLL`, the run's ``jit_compile``; ``transformer`` is
``transformer-nade`` with the independent head) and draws its training batches from the real pipeline
(``training_data``: MuseData by default, windows of :func:`musegen.experiments.jsb.benchmark_window`,
every window in 12 keys, batched by length). The batches are drawn first (that time is the stream's
share), then trained on with ``train_on_batch`` (Keras' compiled train step, what ``fit`` runs) after
``--warmup`` steps; frames per second count the real frames (sample weight 1), not the padding. The
child reports its peak RSS.

``--base DIR`` runs every model a second time with ``musegen`` imported from the checkout ``DIR``
(e.g. ``git worktree add /tmp/nade-base 6d4a52b``), each model's two runs one after the other, so
the ratio new/base is measured on the same machine within a minute: absolute times drift on a
shared machine, ratios much less. ``--rounds N`` alternates N runs of each tree and keeps each
tree's fastest. Frames per second are those of the median step. ``--xla`` compiles the training
step with XLA (``jit_compile``).

``python -m benchmarks.bench_pianoroll_speed --models lstm-nade wavenet-nade --base /tmp/nade-base``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "polyphonic" / "MuseData.mat"
MODELS = ("lstm", "wavenet", "transformer", "lstm-nade", "wavenet-nade", "transformer-nade")
# models timed here that SETTINGS holds with the other head only: (its SETTINGS entry, the overrides)
HEAD_SWAPS = {"transformer": ("transformer-nade", {"head": "independent"})}
MB = 2**20


def child(args: argparse.Namespace) -> dict:
    """The measured work in this process (``musegen`` from ``PYTHONPATH``): draw, warm up, time; a dict."""
    from musegen.tf_setup import configure_tensorflow

    threads = configure_tensorflow()
    import musegen
    from musegen.experiments.jsb import benchmark_config, benchmark_window, frame_dataset
    from musegen.representations.pianoroll import PianoRollRepresentation
    from musegen.sources.mat import load_mat

    data = load_mat(args.data)
    window, stride = benchmark_window([*data.train, *data.valid])
    arch, swap = HEAD_SWAPS.get(args.model, (args.model, {}))
    overrides = {"jit_compile": "on" if args.xla else "off", **swap}
    config = benchmark_config(arch, window, 1.0, stride, **overrides)
    dataset = frame_dataset(data, config.data)
    rep = PianoRollRepresentation.from_config(config.data)
    batch = config.train.batch_size
    stream = rep.training_data(list(dataset.train), list(dataset.val), config, batch, config.train.seed)
    t0 = time.perf_counter()
    batches = list(stream.train.take(args.warmup + args.batches))
    drawn = time.perf_counter() - t0
    import keras

    keras.utils.set_random_seed(config.train.seed)  # the same weights and dropout in both trees
    model = rep.build_model(config)
    for x, y, w in batches[: args.warmup]:
        model.train_on_batch(x, y, sample_weight=w)
    timed, steps = batches[args.warmup :], []
    for x, y, w in timed:
        t0 = time.perf_counter()
        loss = model.train_on_batch(x, y, sample_weight=w)
        steps.append(time.perf_counter() - t0)
    seconds = sum(steps)
    real = sum(float(w.numpy().sum()) for _, _, w in timed)
    padded = sum(int(w.shape[0]) * int(w.shape[1]) for _, _, w in timed)
    keys_on = [float(y.numpy()[w.numpy() > 0].sum(-1).max()) for _, y, w in timed]
    return {
        "model": args.model,
        "tree": str(Path(musegen.__file__).resolve().parents[1]),
        "xla": bool(args.xla),
        "threads": threads,
        "window": window,
        "batch": batch,
        "batches": len(timed),
        "parameters": int(model.count_params()),
        "real_frames": int(real),
        "padding_share": round(1 - real / padded, 3),
        "most_keys_on": int(max(keys_on)),
        "step_s": round(float(np.median(steps)), 4),  # the median: steps slowed by other work on the machine weigh less
        "frames_per_s": round(real / len(timed) / float(np.median(steps)), 1),
        "frames_per_s_mean": round(real / seconds, 1),
        "stream_s_per_batch": round(drawn / len(batches), 4),
        "loss": round(float(loss if not isinstance(loss, list) else loss[0]), 4),
        "maxrss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / MB),
    }


def run_child(args: argparse.Namespace, model: str, tree: Path) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", "--model", model, "--data", str(args.data)]
    command += ["--batches", str(args.batches), "--warmup", str(args.warmup)] + (["--xla"] if args.xla else [])
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"{model} in {tree} failed ({out.returncode}): {out.stderr.strip()[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def format_table(rows: list[dict], base: bool) -> str:
    head = "| model | frames/s | step | padding | stream per batch | peak RSS |"
    if base:
        head = "| model | frames/s before | frames/s after | ratio | step after | padding | peak RSS before / after |"
    lines = [head, "|---|" + "---:|" * (head.count("|") - 2)]
    for r in rows:
        new = r["new"]
        if base:
            old = r["base"]
            lines.append(
                f"| {new['model']} | {old['frames_per_s']:,.0f} | {new['frames_per_s']:,.0f} "
                f"| {new['frames_per_s'] / old['frames_per_s']:.2f}x | {new['step_s'] * 1000:,.0f} ms "
                f"| {new['padding_share']:.1%} | {old['maxrss_mb']:,} / {new['maxrss_mb']:,} MB |"
            )
        else:
            lines.append(
                f"| {new['model']} | {new['frames_per_s']:,.0f} | {new['step_s'] * 1000:,.0f} ms "
                f"| {new['padding_share']:.1%} | {new['stream_s_per_batch'] * 1000:,.0f} ms | {new['maxrss_mb']:,} MB |"
            )
    return "\n".join(lines)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_pianoroll_speed", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS, help="models of SETTINGS")
    parser.add_argument("--base", type=Path, help="a checkout of the code before, timed beside this one")
    parser.add_argument("--xla", action="store_true", help="compile the training step with XLA (jit_compile)")
    parser.add_argument("--batches", type=int, default=8, help="timed training steps per model (default 8)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first (tracing; default 2)")
    parser.add_argument("--rounds", type=int, default=1, help="runs of each tree, alternated; the fastest kept")
    parser.add_argument("--data", type=Path, default=DATA, help="the polyphonic .mat (default MuseData)")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON too")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> list[dict]:
    args = parse(list(argv or []))
    if args.child:
        print(json.dumps(child(args)), flush=True)
        return []
    rows = []
    trees = {"base": args.base.resolve(), "new": ROOT} if args.base else {"new": ROOT}
    for model in args.models:
        row: dict = {}
        for _ in range(args.rounds):  # alternated, the faster run of each tree kept
            for name, tree in trees.items():
                run = run_child(args, model, tree)
                if name not in row or run["frames_per_s"] > row[name]["frames_per_s"]:
                    row[name] = run
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    print(format_table(rows, args.base is not None))
    if args.json:
        print(json.dumps(rows, indent=1))
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])
