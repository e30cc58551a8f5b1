"""Held-out likelihood of token models, per token in nats: NLL, perplexity, top-1 accuracy.

Every model is scored on the same targets as its baseline: every token after the first
(``<bos>``) of each validation piece.

- Sequence models (WaveNet, LSTM) see windows of ``window`` tokens, as in training: the first
  window of a piece scores all its targets, each later window (stride ``window // 2``) scores
  only its last ``window // 2`` targets, so every target has at least half a window of context
  (or the whole piece before it).
- The tutorial's classic models score each target from the ``window`` real tokens before it,
  left-padded with id 0 where the piece has fewer: what those models can do.

Frame models are scored in :mod:`musegen.scoring.floors`. Nothing here imports TensorFlow:
``model`` is anything callable as ``model(x, training=False)`` (a Keras model is called through its
compiled forward pass, :func:`musegen.scoring.floors.model_forward`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from musegen.scoring.floors import model_forward
from musegen.vocabulary import BOS_ID

EVAL_BATCH = 64  # windows per forward pass


def score_sequence(model: Any, seqs: list[np.ndarray], window: int) -> dict[str, float]:
    """Held-out scores of a many-to-many model that returns logits (B, T, V)."""
    nll = correct = count = 0.0
    for logp, y, w in scored_batches(model, seqs, window):
        picked = np.take_along_axis(logp, y[..., None], axis=-1)[..., 0]
        nll -= float((picked * w).sum())
        correct += float(((logp.argmax(-1) == y) * w).sum())
        count += float(w.sum())
    return _summary(nll, correct, count)


def scored_batches(model: Any, seqs: list[np.ndarray], window: int) -> Iterator[tuple[np.ndarray, ...]]:
    """The scored windows of ``seqs`` (:func:`sliding_windows`), ``EVAL_BATCH`` at a time, through ``model``.

    Yields (log-probabilities (B, T, V) float64, targets (B, T) int32, weights (B, T) float32); a target
    counts where its weight is 1, and every target of every piece counts in exactly one batch.
    """
    forward = model_forward(model)
    windows = (w for seq in seqs for w in sliding_windows(seq, window))
    while batch := list(itertools.islice(windows, EVAL_BATCH)):
        x, y, w = (np.stack(part) for part in zip(*batch, strict=True))
        logits = np.asarray(forward(x), dtype=np.float64)
        yield logits - logsumexp(logits), y, w


def score_classic(model: Any, seqs: list[np.ndarray], window: int, vocab_size: int) -> dict[str, float]:
    """Held-out scores of a tutorial model (``id / n_vocab`` windows -> softmax over the next id)."""
    nll = correct = 0.0
    count = 0
    for x, y in classic_examples(seqs, window, vocab_size):
        probs = np.asarray(model(x, training=False), dtype=np.float64)
        p = np.clip(probs[np.arange(len(y)), y], 1e-12, 1.0)
        nll -= float(np.log(p).sum())
        correct += float((probs.argmax(-1) == y).sum())
        count += len(y)
    return _summary(nll, correct, float(count))


def sliding_windows(seq: np.ndarray, window: int):
    """(x, y, weight) windows of one piece; each target (``seq[1:]``) has weight 1 in exactly one window."""
    inputs, targets = seq[:-1], seq[1:]
    n, stride = len(inputs), max(1, window // 2)
    scored, start = 0, 0
    while scored < n:
        end = min(start + window, n)
        x = np.zeros(window, np.int32)
        y = np.zeros(window, np.int32)
        w = np.zeros(window, np.float32)
        x[: end - start], y[: end - start] = inputs[start:end], targets[start:end]
        w[scored - start : end - start] = 1.0
        yield x, y, w
        scored = end
        start = max(0, min(scored + stride, n) - window)


def classic_examples(seqs: list[np.ndarray], window: int, vocab_size: int, bos_id: int = BOS_ID):
    """Batches of (x float32 (B, window, 1), y int32 (B,)): every real token after the first of each piece."""
    xs: list[np.ndarray] = []
    ys: list[int] = []
    for seq in seqs:
        ids = seq[1:] if len(seq) and seq[0] == bos_id else seq
        padded = np.concatenate([np.zeros(window, np.int32), ids])
        # with <bos> the targets are all real tokens (the first from an all-pad window), as the baseline's
        first = 0 if len(seq) and seq[0] == bos_id else 1
        for j in range(first, len(ids)):
            xs.append(padded[j : j + window])
            ys.append(int(ids[j]))
            if len(xs) == EVAL_BATCH * 4:
                yield _classic_batch(xs, ys, vocab_size)
                xs, ys = [], []
    if xs:
        yield _classic_batch(xs, ys, vocab_size)


def _classic_batch(xs: list[np.ndarray], ys: list[int], vocab_size: int) -> tuple[np.ndarray, np.ndarray]:
    x = (np.stack(xs).astype(np.float32) / float(vocab_size))[..., None]
    return x, np.asarray(ys, np.int32)


def logsumexp(a: np.ndarray) -> np.ndarray:
    m = a.max(-1, keepdims=True)
    return m + np.log(np.exp(a - m).sum(-1, keepdims=True))


def _summary(nll: float, correct: float, count: float) -> dict[str, float]:
    mean = nll / count
    return {"nll": mean, "perplexity": math.exp(min(mean, 700.0)), "accuracy": correct / count, "tokens": int(count)}
