"""Peak memory of piano-roll training on long pieces: the JSB benchmark's path on a synthetic set of its family.

The bug this guards against: ``musegen benchmark jsb`` on a set of long pieces (up to 1,793 frames,
176,561 training frames) was killed by the OOM killer at 23.9 GB, because every transposed copy of
every piece was stored and every window was a float32 array padded to the longest piece. The
training data now streams from one uint8 store (:mod:`musegen.streams.frames`).

This writes a synthetic ``.mat`` (the layout :mod:`musegen.sources.mat` reads) of chorale-like
pieces (four voices, 3-5 keys down, notes of several frames): by default 250,000 training frames in
pieces of 4,500 frames, the size of the largest sets of the family. It then trains the benchmark's
WaveNet (:data:`musegen.experiments.jsb.SETTINGS`, about 300K parameters, the training pieces in 12
keys) through the real ``train`` for a bounded number of batches or minutes, scores the validation
pieces as the benchmark does, and reports the peak resident memory and the time. The work runs in
a child process, so its peak is its own (``ru_maxrss`` of the child, and of its children).

``python -m benchmarks pianoroll_memory`` (or ``python -m benchmarks.bench_pianoroll_memory``) runs
the full size; ``--quick`` (or ``BENCH_PIANOROLL_QUICK=1``) a small one (20,000 frames in pieces of
1,000). ``--batches`` / ``BENCH_PIANOROLL_BATCHES`` and ``--minutes`` / ``BENCH_PIANOROLL_MINUTES``
bound the training; ``--frames`` and ``--piece`` set the size.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

FULL = {"frames": 250_000, "piece": 4_500, "batches": 200, "minutes": 10.0}
QUICK = {"frames": 20_000, "piece": 1_000, "batches": 20, "minutes": 2.0}
VOICES = ((7, 24), (19, 34), (26, 41), (31, 49))  # key ranges (key 0 = A0) of bass, tenor, alto, soprano
TRANSPOSE = (-5, 6)
MB = 2**20


def chorale_like(length: int, rng: np.random.Generator) -> np.ndarray:
    """(length, 88) uint8: four voices moving by small steps, each note held 2-8 frames, a voice now and
    then silent and a key now and then doubled an octave up, so 3-5 keys are down in most frames."""
    frames = np.zeros((length, 88), np.uint8)
    for lo, hi in VOICES:
        t, key = 0, int(rng.integers(lo, hi))
        while t < length:
            hold = int(rng.integers(2, 9))
            key = int(np.clip(key + rng.integers(-3, 4), lo, hi))
            if rng.random() > 0.08:  # a rest now and then
                frames[t : t + hold, key] = 1
                if key == hi - 1 or rng.random() < 0.05:
                    frames[t : t + hold, min(key + 12, 87)] = 1
            t += hold
    return frames


def write_mat(path: Path, frames: int, piece: int, seed: int = 0) -> dict[str, int]:
    """A synthetic benchmark file: ``frames`` training frames in pieces of ``piece`` frames, and a tenth
    of that (at least two pieces) for each of validdata and testdata."""
    import scipy.io

    rng = np.random.default_rng(seed)
    n_train = max(1, round(frames / piece))
    n_other = max(2, n_train // 10)
    arrays, sizes = {}, {}
    for name, count in (("traindata", n_train), ("validdata", n_other), ("testdata", n_other)):
        cell = np.empty((1, count), dtype=object)
        for i in range(count):
            cell[0, i] = chorale_like(piece, rng)
        arrays[name] = cell
        sizes[name] = count
    scipy.io.savemat(str(path), arrays)
    return sizes


def _rss() -> int:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmRSS:"))


def child(args: argparse.Namespace) -> dict:
    """The measured work: write the set, read it as the benchmark does, train, score; print a JSON line."""
    from musegen import runs
    from musegen.experiments.jsb import benchmark_config, benchmark_scoring, benchmark_window, frame_dataset
    from musegen.scoring.floors import frame_nll
    from musegen.sources.mat import load_mat
    from musegen.streams.frames import FrameStore, model_context, training_windows
    from musegen.training.loop import train

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="musegen-bench-mem-") as tmp:
        mat = Path(tmp) / "Synthetic.mat"
        sizes = write_mat(mat, args.frames, args.piece)
        data = load_mat(mat)
        window, stride = benchmark_window([*data.train, *data.valid])
        config = benchmark_config(args.model, window, args.minutes, stride, transpose=list(TRANSPOSE))
        dataset = frame_dataset(data, config.data)
        run_dir = runs.create_run(Path(tmp) / "runs", config, dataset.vocab, name="memory")
        stop, seen = threading.Event(), {"batches": 0, "batches_per_epoch": 0}

        def progress(event) -> None:
            if event.kind == "batch":
                seen["batches"] += 1
                seen["batches_per_epoch"] = event.batches
                if seen["batches"] >= args.batches:
                    stop.set()

        prepared = time.perf_counter()
        result = train(config, dataset, run_dir, on_progress=progress, stop_event=stop, evaluate=False)
        trained = time.perf_counter()
        model = runs.load_run_model(run_dir, "best")
        valid = frame_nll(model, data.valid, *benchmark_scoring(config))
        scored = time.perf_counter()
        train_frames = sum(len(p) for p in data.train)
        windows = len(training_windows(FrameStore.from_pieces(data.train), window, stride))
        shifts = TRANSPOSE[1] - TRANSPOSE[0] + 1
        # what the old path held: every copy's windows as float32 x and y, padded to the longest piece
        longest = max(len(p) for p in [*data.train, *data.valid]) - 1
        old_windows = shifts * sum(1 for p in data.train if len(p) > 1)  # one window a piece (window = longest)
        old_bytes = old_windows * longest * 88 * 4 * 2
        return {
            "model": args.model,
            "train_frames": train_frames,
            "pieces": sizes,
            "piece_frames": args.piece,
            "window": window,
            "stride": stride,
            "receptive_field": model_context(config.model, window),
            "parameters": int(model.count_params()),
            "examples_per_epoch": windows * shifts,
            "batches_per_epoch": seen["batches_per_epoch"],
            "batches_trained": seen["batches"],
            "stopped_by": result.message,
            "valid_nll": round(valid["nll"], 3),
            "prepare_s": round(prepared - t0, 1),
            "train_s": round(trained - prepared, 1),
            "score_s": round(scored - trained, 1),
            "old_path_windows_mb": round(old_bytes / MB),
            "rss_end_mb": round(_rss() / MB),
            "maxrss_self_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / MB),
            "maxrss_children_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024 / MB),
        }


def parse(argv: list[str]) -> argparse.Namespace:
    quick = os.environ.get("BENCH_PIANOROLL_QUICK", "") not in ("", "0")
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_pianoroll_memory", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", default=quick, help="a small set (20,000 frames)")
    parser.add_argument("--frames", type=int, help="training frames (default 250,000; 20,000 with --quick)")
    parser.add_argument("--piece", type=int, help="frames per piece (default 4,500; 1,000 with --quick)")
    parser.add_argument("--batches", type=int, help="stop after this many batches (default 200; 20 with --quick)")
    parser.add_argument("--minutes", type=float, help="training time budget (default 10; 2 with --quick)")
    parser.add_argument(
        "--model", default="wavenet", help="a model of the JSB benchmark's SETTINGS (wavenet, lstm, lstm-nade, ...)"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    defaults = QUICK if args.quick else FULL
    env = {"batches": "BENCH_PIANOROLL_BATCHES", "minutes": "BENCH_PIANOROLL_MINUTES"}
    for name, default in defaults.items():
        if getattr(args, name) is None:
            value = os.environ.get(env.get(name, ""), "") or default
            setattr(args, name, type(default)(value))
    return args


def format_row(r: dict) -> str:
    lines = [
        f"{r['model']}: {r['train_frames']:,} training frames in pieces of {r['piece_frames']:,} "
        f"({r['pieces']['traindata']} train, {r['pieces']['validdata']} valid, {r['pieces']['testdata']} test); "
        f"window {r['window']} every {r['stride']}, receptive field {r['receptive_field']}, "
        f"{r['parameters']:,} parameters, {r['examples_per_epoch']:,} examples ({r['batches_per_epoch']:,} batches) "
        "an epoch in 12 keys",
        "",
        "| batches trained | prepare | train | score valid | valid NLL | peak RSS (self) | peak RSS (children) "
        "| old path's windows alone |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {r['batches_trained']} | {r['prepare_s']} s | {r['train_s']} s | {r['score_s']} s | {r['valid_nll']} "
        f"| {r['maxrss_self_mb']:,} MB | {r['maxrss_children_mb']:,} MB | {r['old_path_windows_mb']:,} MB |",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    args = parse(list(argv or []))
    if args.child:
        print(json.dumps(child(args)), flush=True)
        return {}
    command = [sys.executable, "-m", "benchmarks.bench_pianoroll_memory", "--child"]
    command += ["--frames", str(args.frames), "--piece", str(args.piece)]
    command += ["--batches", str(args.batches), "--minutes", str(args.minutes), "--model", args.model]
    root = Path(__file__).resolve().parents[1]
    t0 = time.perf_counter()
    out = subprocess.run(command, cwd=root, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"the measured process failed ({out.returncode}): {out.stderr.strip()[-2000:]}")
    row = json.loads(out.stdout.strip().splitlines()[-1])
    row["wall_s"] = round(time.perf_counter() - t0, 1)
    row["maxrss_child_process_mb"] = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024 / MB)
    print(format_row(row))
    print(f"\nwall time {row['wall_s']} s; peak RSS of the measured process {row['maxrss_child_process_mb']:,} MB")
    return row


if __name__ == "__main__":
    main(sys.argv[1:])
