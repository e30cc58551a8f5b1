"""The score of piano-roll models: the frame negative log-likelihood, and two floors.

The benchmark family of Boulanger-Lewandowski, Bengio and Vincent (ICML 2012): JSB Chorales,
Nottingham, MuseData and Piano-midi.de (read by :mod:`musegen.sources.mat`).

What is scored (:func:`frame_nll`), exactly as the TCN code of Bai, Kolter and Koltun (2018,
``TCN/poly_music/music_test.py``): for every piece, the model reads frames ``0..T-2`` and
predicts frames ``1..T-1``; the prediction of frame t + 1 may use frames 0..t only (causal
models). The NLL of one predicted frame is the sum over the 88 keys of the binary
cross-entropy ``-[y log p + (1 - y) log(1 - p)]`` in nats. The score is the mean over all
predicted frames of all pieces (``T - 1`` per piece; a piece's first frame is never scored;
padding never counts). Lower is better.

Floors, fitted on the training pieces and scored on the same frames:

- :class:`BernoulliFloor`: every key on with its training frequency, ignoring the past;
- :class:`MarkovFloor`: every key a first-order Markov chain (on-probability given whether
  that key was on in the previous frame).

Both use add-``alpha`` smoothing (alpha 0.5), so unseen keys cost a lot but never infinity.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from musegen.errors import DatasetError
from musegen.notes import PIANO_KEYS as N_KEYS
from musegen.streams.windows import scoring_windows

SMOOTHING = 0.5
SCORE_BATCH_FRAMES = 2**16  # frames per forward pass when scoring (pieces are batched by length)
# with the NADE head: 4,096 frames x (most keys on + 1) ranks x 128 hidden per tensor (up to 88 ranks: 185 MB)
NADE_SCORE_BATCH_FRAMES = 2**12


# --------------------------------------------------------------------------- scoring


def bce_from_logits(logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Per-frame NLL (sum over the last axis of the binary cross-entropy), float64, stable for any logit."""
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(targets, dtype=np.float64)
    return (np.logaddexp(0.0, z) - y * z).sum(-1)


def bce_from_probs(probs: np.ndarray, targets: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Per-frame NLL from probabilities (clipped to [eps, 1 - eps])."""
    p = np.clip(np.asarray(probs, dtype=np.float64), eps, 1.0 - eps)
    y = np.asarray(targets, dtype=np.float64)
    return -(y * np.log(p) + (1.0 - y) * np.log1p(-p)).sum(-1)


def frame_nll(
    model: Any, pieces: Sequence[np.ndarray], window: int | None = None, context: int = 0
) -> dict[str, float]:
    """Score a causal frame model on whole pieces (see the module doc for what is scored).

    ``model(x, training=False)`` maps float32 frames (B, T, K) to per-key logits (B, T, K)
    (K = 88 for piano rolls); a Keras piano-roll model or any callable that does the same. Pieces are batched by length
    and zero-padded at the end (causal models do not see the padding; it is never scored).
    Returns ``nll`` (mean nats per predicted frame), ``frames`` (how many), ``accuracy`` (the
    frame-level accuracy of Bay et al. 2009 with keys on where p > 0.5: TP / (TP + FP + FN))
    and ``perplexity`` (exp of the NLL per key, for the UI).

    With ``window``, a piece of more than ``window`` predicted frames is cut into scoring windows
    of ``window`` frames whose first ``context`` predictions only give context (except in the
    piece's first window; :func:`musegen.streams.windows.scoring_windows`): every frame is still
    scored exactly once, with at least ``context`` frames before it. For a model that reads at
    most ``context`` frames (a WaveNet's receptive field) the scores are those of whole pieces;
    pieces of at most ``window`` predicted frames are scored whole either way.
    """
    seqs = [np.asarray(p) for p in pieces if len(p) >= 2]
    if not seqs:
        raise DatasetError("no piece with two frames or more to score.")
    keys = seqs[0].shape[1]
    # (piece, first input, predictions in the segment, leading predictions that are context only)
    segments = [(s, 0, len(s) - 1, 0) for s in seqs]
    if window is not None:
        segments = [
            (s, start, length, skip)
            for s in seqs
            for start, length, skip in scoring_windows(len(s) - 1, window, context)
        ]
    # a model with the NADE head reads the target frame beside the context (teacher forcing) and
    # holds (frames x ranks x hidden) values per pass, ranks up to 89 (every key on): smaller batches
    nade = reads_targets(model, keys)
    forward = model_forward(model)
    total, frames, tp, wrong = 0.0, 0, 0.0, 0.0
    for batch in _length_batches(segments, NADE_SCORE_BATCH_FRAMES if nade else SCORE_BATCH_FRAMES):
        width = max(length for _, _, length, _ in batch)
        x = np.zeros((len(batch), width, keys), np.float32)
        y = np.zeros_like(x)
        mask = np.zeros((len(batch), width), bool)
        for b, (s, start, length, skip) in enumerate(batch):
            x[b, :length], y[b, :length] = s[start : start + length], s[start + 1 : start + length + 1]
            mask[b, skip:length] = True
        logits = np.asarray(forward(np.concatenate([x, y], -1) if nade else x), dtype=np.float64)
        total += float(bce_from_logits(logits, y)[mask].sum())
        frames += int(mask.sum())
        on, truth = (logits > 0)[mask], y[mask] > 0.5
        tp += float((on & truth).sum())
        wrong += float((on != truth).sum())
    return _summary(total, frames, tp, wrong, keys)


def model_forward(model: Any) -> Any:
    """``x -> model(x, training=False)``: compiled for a Keras model (much faster for recurrent layers),
    as it is for any other callable."""
    if "keras" in sys.modules:
        import keras

        if isinstance(model, keras.Model):
            from musegen.models.incremental import compiled_forward

            return compiled_forward(model)
    return lambda x: model(x, training=False)


def reads_targets(model: Any, keys: int) -> bool:
    """Whether ``model`` is a NADE piano-roll model: its input is the context frame and the target frame."""
    inputs = getattr(model, "inputs", None)
    return bool(inputs) and inputs[0].shape[-1] == 2 * keys


def _length_batches(
    segments: list[tuple[np.ndarray, int, int, int]], budget: int = SCORE_BATCH_FRAMES
) -> list[list[tuple[np.ndarray, int, int, int]]]:
    """Segments (piece, start, length, skip) sorted by length, cut into batches of at most
    ``budget`` padded frames."""
    batches: list[list[tuple[np.ndarray, int, int, int]]] = [[]]
    for seg in sorted(segments, key=lambda seg: seg[2]):
        if batches[-1] and (len(batches[-1]) + 1) * seg[2] > budget:
            batches.append([])
        batches[-1].append(seg)
    return batches


def _summary(total: float, frames: int, tp: float, wrong: float, keys: int) -> dict[str, float]:
    nll = total / frames
    return {
        "nll": nll,
        "frames": frames,
        "accuracy": tp / (tp + wrong) if tp + wrong else 0.0,
        "perplexity": math.exp(min(nll / keys, 700.0)),
    }


# --------------------------------------------------------------------------- floors


class BernoulliFloor:
    """Every key independently on with its frequency in the training frames (no memory)."""

    kind = "per-key Bernoulli"

    def __init__(self, alpha: float = SMOOTHING):
        self.alpha = alpha
        self.p = np.full(N_KEYS, 0.5)

    def fit(self, pieces: Sequence[np.ndarray]) -> BernoulliFloor:
        frames = np.concatenate([np.asarray(p, np.float64) for p in pieces])
        self.p = (frames.sum(0) + self.alpha) / (len(frames) + 2 * self.alpha)
        return self

    def probs(self, piece: np.ndarray) -> np.ndarray:
        """On-probabilities of frames 1..T-1 of ``piece`` (T - 1, 88)."""
        return np.broadcast_to(self.p, (max(len(piece) - 1, 0), len(self.p)))

    def score(self, pieces: Sequence[np.ndarray]) -> dict[str, float]:
        """The same frames and statistics as :func:`frame_nll`."""
        total, frames, tp, wrong, keys = 0.0, 0, 0.0, 0.0, len(self.p)
        for piece in pieces:
            if len(piece) < 2:
                continue
            p, y = self.probs(np.asarray(piece)), np.asarray(piece[1:], np.float64)
            total += float(bce_from_probs(p, y).sum())
            frames += len(y)
            on, truth = p > 0.5, y > 0.5
            tp += float((on & truth).sum())
            wrong += float((on != truth).sum())
        if not frames:
            raise DatasetError("no piece with two frames or more to score.")
        return {"kind": self.kind, **_summary(total, frames, tp, wrong, keys)}


class MarkovFloor(BernoulliFloor):
    """Every key a first-order Markov chain: P(on at t+1 | on or off at t), fitted per key."""

    kind = "per-key Markov (first order)"

    def __init__(self, alpha: float = SMOOTHING):
        super().__init__(alpha)
        self.p_after_on = np.full(N_KEYS, 0.5)
        self.p_after_off = np.full(N_KEYS, 0.5)

    def fit(self, pieces: Sequence[np.ndarray]) -> MarkovFloor:
        prev = np.concatenate([np.asarray(p[:-1], np.float64) for p in pieces])
        nxt = np.concatenate([np.asarray(p[1:], np.float64) for p in pieces])
        a = self.alpha
        self.p_after_on = ((prev * nxt).sum(0) + a) / (prev.sum(0) + 2 * a)
        self.p_after_off = (((1 - prev) * nxt).sum(0) + a) / ((1 - prev).sum(0) + 2 * a)
        return self

    def probs(self, piece: np.ndarray) -> np.ndarray:
        return np.where(np.asarray(piece[:-1]) > 0, self.p_after_on, self.p_after_off)


def score_floors(train: Sequence[np.ndarray], pieces: Sequence[np.ndarray]) -> dict[str, dict[str, float]]:
    """Both floors fitted on ``train`` and scored on ``pieces``."""
    return {
        "bernoulli": BernoulliFloor().fit(train).score(pieces),
        "markov": MarkovFloor().fit(train).score(pieces),
    }
