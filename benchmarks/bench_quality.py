"""Musical quality of generated music against held-out chorales (issue 7's table).

Generates ``BENCH_QUALITY_PIECES`` (default 20) pieces per row from held-out seeds: the bundled
demo models under several sampling settings, and a greedy ``classic-wavenet`` trained here with the
tutorial's recipe (classic tokens, 128-event windows). Every row is compared with the same real
held-out chorales (their exact notes), with Yang & Lerch's overlapped areas and per-piece means.
The app's default sampling settings are chosen from this table.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from musegen.config import DataConfig, ModelConfig, RunConfig, SamplingConfig, TrainConfig

ROOT = Path(__file__).resolve().parents[1]
PIECES = int(os.environ.get("BENCH_QUALITY_PIECES", "20"))
TIMED_LENGTH = 360  # about 40 beats of chorale (about 9 timed tokens per beat)
CLASSIC_LENGTH = 80  # 40 beats: the classic decoder gives every event half a beat
BEATS = 40.0

ROWS = [
    ("demo-wavenet", "temperature 1.0", SamplingConfig(length=TIMED_LENGTH, temperature=1.0)),
    ("demo-wavenet", "temperature 0.9, top-p 0.95", SamplingConfig(length=TIMED_LENGTH, temperature=0.9, top_p=0.95)),
    ("demo-wavenet", "temperature 0.8, top-k 8", SamplingConfig(length=TIMED_LENGTH, temperature=0.8, top_k=8)),
    ("demo-wavenet", "greedy", SamplingConfig(length=TIMED_LENGTH, greedy=True, temperature=0.0)),
    ("demo-lstm", "temperature 1.0", SamplingConfig(length=TIMED_LENGTH, temperature=1.0)),
    ("demo-lstm", "temperature 0.9, top-p 0.95", SamplingConfig(length=TIMED_LENGTH, temperature=0.9, top_p=0.95)),
    ("demo-lstm", "temperature 0.8, top-k 8", SamplingConfig(length=TIMED_LENGTH, temperature=0.8, top_k=8)),
    ("demo-lstm", "greedy", SamplingConfig(length=TIMED_LENGTH, greedy=True, temperature=0.0)),
]


def train_classic_wavenet(runs_dir: str) -> Path:
    """The tutorial's model on the tutorial's tokens (one target per 128-event window)."""
    from musegen import runs
    from musegen.datasets.dataset import build_dataset
    from musegen.sources.corpus import load_builtin_corpus
    from musegen.training.loop import train

    cfg = RunConfig(
        data=DataConfig(representation="classic", window=128, stride=1),
        model=ModelConfig(arch="classic-wavenet"),
        train=TrainConfig(epochs=50, batch_size=128, learning_rate=1e-3, patience=4, max_minutes=2.0),
    )
    dataset = build_dataset(load_builtin_corpus(), cfg.data)
    run_dir = runs.create_run(runs_dir, cfg, dataset.vocab)
    train(cfg, dataset, run_dir, evaluate=False)
    return run_dir


def _first_beats(piece, beats: float):
    from musegen.notes import Piece

    notes = piece.notes[piece.notes[:, 0] < beats].copy()
    notes[:, 1] = notes[:, 1].clip(max=beats)
    return Piece(piece.name, notes, piece.tempo)


def main() -> list[dict]:
    from musegen.evaluation.quality import SUMMARY_STATS, evaluate_music
    from musegen.generation.compose import Composer
    from musegen.metrics.music import piece_stats

    demo = ROOT / "assets" / "models"
    reference = [
        p for p in Composer(demo / "demo-wavenet").reference_pieces(limit=400) if p.name.startswith("held-out")
    ]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        classic = train_classic_wavenet(tmp)
        plan = [(demo / name, name, label, s) for name, label, s in ROWS]
        greedy = SamplingConfig(length=CLASSIC_LENGTH, greedy=True, temperature=0.0)
        plan.append((classic, "classic-wavenet (tutorial)", "greedy", greedy))
        for run_dir, name, label, sampling in plan:
            t0 = time.perf_counter()
            out = evaluate_music(run_dir, pieces=PIECES, sampling=sampling, real=reference)
            rows.append({**out, "model": name, "sampling": label, "seconds": time.perf_counter() - t0})
            print(f"  {name}, {label}: {time.perf_counter() - t0:.0f} s", flush=True)
    real = {k: sum(getattr(piece_stats(p), k) for p in reference) / len(reference) for k in SUMMARY_STATS}
    print(f"\n{PIECES} pieces per row from held-out seeds; reference: {len(reference)} held-out chorales\n")
    print(
        "| model | sampling | mean overlap | pitch-class entropy | scale consistency | distinct 4-grams | "
        "longest loop (notes) | loop share | notes |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        g = r["generated"]
        print(
            f"| {r['model']} | {r['sampling']} | {r['mean_overlap']:.3f} | {g['pitch_class_entropy']:.2f} | "
            f"{g['scale_consistency']:.3f} | {g['distinct_ngram_ratio']:.3f} | {g['longest_repeat']:.1f} | "
            f"{g['longest_repeat_share']:.3f} | {g['n_notes']:.0f} |"
        )
    print(
        f"| real held-out chorales | | 1 (by definition) | {real['pitch_class_entropy']:.2f} | "
        f"{real['scale_consistency']:.3f} | {real['distinct_ngram_ratio']:.3f} | {real['longest_repeat']:.1f} | "
        f"{real['longest_repeat_share']:.3f} | {real['n_notes']:.0f} |"
    )
    return rows


if __name__ == "__main__":
    main()
