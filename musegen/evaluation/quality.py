"""Musical quality of a run: generate from held-out seeds, compare with the held-out pieces.

The comparison is the one of :func:`musegen.metrics.music.compare_sets` (Yang & Lerch 2018:
overlap of intra-set and inter-set distance distributions per feature), plus the mean of a
few per-piece statistics that tell loops and key drift at a glance.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from musegen.config import SamplingConfig
from musegen.errors import DatasetError
from musegen.metrics.music import compare_sets, piece_stats

SUMMARY_STATS = (
    "n_notes",
    "pitch_class_entropy",
    "scale_consistency",
    "distinct_ngram_ratio",
    "longest_repeat",
    "longest_repeat_share",
    "polyphony",
)


def evaluate_music(
    run_dir: str | Path,
    *,
    pieces: int = 10,
    sampling: SamplingConfig | None = None,
    seed_length: int = 64,
    real: list | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Continue ``pieces`` held-out seeds (one each) and compare the continuations with held-out music.

    Seed ``k`` uses random seed ``sampling.seed + k`` (or ``k``), so the result is reproducible.
    ``real`` is the reference set (Pieces); by default the run's held-out pieces decoded from
    its tokens (pass real notes to compare runs of different representations fairly).
    """
    from musegen.generation.compose import Composer

    sampling = sampling or SamplingConfig()
    composer = Composer(run_dir)
    held_out = [i for i, (label, _) in enumerate(composer.pieces()) if label.startswith("held-out")]
    if len(held_out) < 2:
        raise DatasetError("the run holds out fewer than 2 pieces; train with a larger val_fraction to measure music.")
    held_out = held_out[:pieces]
    generated = []
    for k, index in enumerate(held_out):
        seed = composer.seed_from_piece(index, 0, seed_length)
        cfg = SamplingConfig(**{**sampling.__dict__, "variations": 1, "seed": (sampling.seed or 0) + k})
        generated.append(composer.compose(seed, cfg).continuations[0])
        if on_progress:
            on_progress(k + 1, len(held_out))
    if real is None:
        real = [p for p in composer.reference_pieces(limit=len(composer.pieces())) if p.name.startswith("held-out")]
    comparison = compare_sets(generated, real)
    return {
        "run_id": composer.run.run_id,
        "arch": composer.config.model.arch,
        "sampling": dict(sampling.__dict__),
        "generated": _means(generated),
        "real": _means(real),
        "mean_overlap": comparison.mean_overlap,
        "overlaps": comparison.rows(),
    }


def _means(pieces: list) -> dict[str, float]:
    stats = [piece_stats(p) for p in pieces if p.n_notes]
    return {
        name: float(np.mean([getattr(s, name) for s in stats])) if stats else float("nan") for name in SUMMARY_STATS
    }
