"""Training windows over sequences, and the length buckets of batches: the arrays a model trains on.

Windows are many-to-many: the target of position t is the element at t + 1, so a window of
128 gives 128 targets instead of the tutorial's one. Every target of every sequence appears
in at least one window: a sequence shorter than the window becomes one padded window (padding
at the end keeps causal models exact), and the last window of a long one is aligned to its end.
The tutorial's classic windows (one target each) are here too; they drop short pieces.
:func:`scoring_windows` cuts a long sequence for scoring instead: each target exactly once, with
left context. Piano rolls stream their windows from a compact store (:mod:`musegen.streams.frames`)
rather than holding these arrays.

The functions work on token-id sequences (T,) and on frame sequences (T, K) alike, and know
nothing of what a token or a frame means: that is the representation's business.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from musegen.vocabulary import BOS_ID, PAD_ID

BUCKET_STEP = 16  # frames: length-bucketed batches are cut to a multiple of this


def window_starts(n: int, window: int, stride: int) -> list[int]:
    """Starts of windows over ``n`` positions: every ``stride``, plus one aligned to the end, so none is lost."""
    starts = list(range(0, max(n - window, 0) + 1, stride))
    if starts[-1] + window < n:
        starts.append(n - window)
    return starts


def scoring_windows(n: int, window: int, context: int) -> list[tuple[int, int, int]]:
    """Windows (start, length, skip) over ``n`` targets that score each target exactly once.

    A sequence of at most ``window`` targets is one window with nothing skipped. A longer one is
    cut into windows of at most ``window`` positions; every window after the first starts
    ``context`` positions before the first target it scores and skips (weight 0) those
    ``context`` first targets, so each scored target ``t`` reads at least ``context + 1`` inputs
    of its own window (``start .. t``). Needs ``0 <= context < window``.
    """
    if not 0 <= context < window:
        raise ValueError(f"the context ({context}) must be at least 0 and below the window ({window})")
    if n <= 0:
        return []
    out = [(0, min(n, window), 0)]
    done = out[0][1]
    while done < n:
        start = done - context
        length = min(window, n - start)
        out.append((start, length, context))
        done = start + length
    return out


def sequence_windows(
    seqs: Sequence[np.ndarray], window: int, stride: int, pad: int | float = PAD_ID
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Many-to-many windows of ``seqs`` ((T,) ids or (T, K) frames): ``x[i, t]`` predicts ``y[i, t]``.

    Returns ``x`` and ``y`` of shape (N, window, ...) in the sequences' dtype (int32 ids, float32
    frames) and the mask ``w`` (N, window): 1 on real targets, 0 on padding (filled with ``pad``).
    """
    first = next((np.asarray(s) for s in seqs if len(s)), None)
    tail = () if first is None else first.shape[1:]
    dtype = np.int32 if first is None or first.ndim == 1 else np.float32
    xs, ys, ws = [], [], []
    for seq in seqs:
        seq = np.asarray(seq)
        inputs, targets = seq[:-1], seq[1:]
        n = len(inputs)
        if n == 0:
            continue
        for s in window_starts(n, window, stride):
            x = np.full((window, *tail), pad, dtype=dtype)
            y = np.full((window, *tail), pad, dtype=dtype)
            w = np.zeros(window, np.float32)
            chunk = inputs[s : s + window]
            x[: len(chunk)], y[: len(chunk)], w[: len(chunk)] = chunk, targets[s : s + window], 1.0
            xs.append(x)
            ys.append(y)
            ws.append(w)
    if not xs:
        empty = np.zeros((0, window, *tail), dtype)
        return empty, empty.copy(), np.zeros((0, window), np.float32)
    return np.stack(xs), np.stack(ys), np.stack(ws)


def next_token_windows(
    seqs: Sequence[np.ndarray], window: int, stride: int, pad_id: int = PAD_ID
) -> tuple[np.ndarray, np.ndarray]:
    """Token windows (x, y), padded targets ``pad_id`` (the loss must ignore them)."""
    x, y, _ = sequence_windows(seqs, window, stride, pad_id)
    return x, y


def classic_windows(
    seqs: Sequence[np.ndarray], window: int, n_vocab: int, bos_id: int = BOS_ID
) -> tuple[np.ndarray, np.ndarray]:
    """The tutorial's windows: ``window`` ids scaled to ``id / n_vocab`` predict the next id.

    A piece not longer than the window gives no window at all (the tutorial's loss);
    see :func:`classic_coverage` for how many pieces that leaves out.
    """
    xs, ys = [], []
    for seq in seqs:
        ids = seq[1:] if len(seq) and seq[0] == bos_id else seq
        for i in range(len(ids) - window):
            xs.append(ids[i : i + window])
            ys.append(ids[i + window])
    if not xs:
        return np.zeros((0, window, 1), np.float32), np.zeros((0,), np.int32)
    x = (np.stack(xs).astype(np.float32) / float(n_vocab))[..., None]
    return x, np.asarray(ys, dtype=np.int32)


def classic_coverage(seqs: Sequence[np.ndarray], window: int) -> float:
    """Share of pieces that give the tutorial's windows at least one example."""
    if not seqs:
        return 0.0
    return float(np.mean([len(s) - 1 > window for s in seqs]))


def bucket_boundaries(window: int, step: int = BUCKET_STEP) -> list[int]:
    """Boundaries of the length buckets: bucket i holds real lengths in [b[i-1], b[i]), ``step`` wide."""
    return list(range(step + 1, window + 1, step))


def bucket_batch_count(lengths: np.ndarray, window: int, batch: int, step: int = BUCKET_STEP, repeats: int = 1) -> int:
    """Batches per epoch of windows of these real ``lengths`` batched by length in the buckets of
    :func:`bucket_boundaries`, each window taken ``repeats`` times (every bucket ends with one partial
    batch when not full).

    Windows of pieces shorter than the window are mostly padding; grouping them by length and
    cutting each batch to its longest (rounded up to ``step``, which bounds the number of distinct
    shapes the compiled training step sees) skips that padding: about twice as fast on the JSB
    Chorales (:mod:`musegen.streams.frames` does it). The exact count lets Keras know an epoch's
    length (no "ran out of data" on the first epoch)."""
    buckets = np.searchsorted(bucket_boundaries(window, step), np.asarray(lengths, np.int64), side="right")
    counts = np.bincount(buckets, minlength=len(bucket_boundaries(window, step)) + 1) * int(repeats)
    return int(sum(math.ceil(int(c) / batch) for c in counts))
