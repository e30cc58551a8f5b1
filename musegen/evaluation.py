"""Held-out metrics of a trained model beside the n-gram baseline, on the validation pieces.

Every model and the baseline are scored on exactly the same targets: every token after the
first (``<bos>``) of each validation piece. Numbers are per token, in nats:

- ``nll``: mean negative log-likelihood; ``perplexity = exp(nll)``; ``accuracy``: top-1.
- ``wavenet`` / ``lstm`` see windows of ``window`` tokens, as in training: the first window of a
  piece scores all its targets, each later window (stride ``window // 2``) scores only its last
  ``window // 2`` targets, so every target has at least half a window of context (or the whole
  piece before it).
- ``classic-*`` models score each target from the ``window`` real tokens before it, left-padded
  with id 0 where the piece has fewer: what the tutorial's models can do.
- The baseline is an n-gram model fitted on the training split, its order chosen on validation.

Piano-roll runs are scored per frame instead (:func:`musegen.polyphonic.frame_nll`: the sum
over the 88 keys of the binary cross-entropy, mean over every frame after the first of each
validation piece, whole pieces), beside the per-key first-order Markov floor as the baseline.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from musegen import runs
from musegen.errors import DatasetError, ModelLoadError

EVAL_BATCH = 64  # windows per forward pass


def evaluate_run(run_dir: str | Path, dataset: Any = None) -> dict[str, Any]:
    """Score the run's best model (model.keras) and the n-gram baseline; write and return metrics.json.

    ``dataset`` defaults to the split stored with the run (data.npz).
    """
    info = runs.load_run(run_dir)
    assert info.config is not None
    data = dataset if dataset is not None else runs.load_dataset(info.path)
    if info.config.data.representation == "pianoroll":
        return _evaluate_frames(info, data)
    val = [np.asarray(s, np.int32) for s in data.val if len(s) > 1]
    if not val:
        raise DatasetError(
            f"run {info.run_id} has no validation piece with a target; train with val_fraction > 0 "
            "and at least two pieces."
        )
    vocab_size = len(data.vocab)
    model = info.load_model("best")
    if int(model.outputs[0].shape[-1]) != vocab_size:
        raise ModelLoadError(
            f"{info.path / runs.MODEL} predicts {model.outputs[0].shape[-1]} tokens but the run's vocabulary has "
            f"{vocab_size}; the model does not belong to this run. Train the run again."
        )
    from musegen.models import is_classic

    arch, window = info.config.model.arch, info.config.data.window
    t0 = time.perf_counter()
    scores = score_classic(model, val, window, vocab_size) if is_classic(arch) else score_sequence(model, val, window)
    scores["seconds"] = round(time.perf_counter() - t0, 3)
    metrics = {
        "model": scores,
        "baseline": score_baseline(list(data.train), val, vocab_size),
        "uniform_nll": math.log(vocab_size),
        "vocab_size": vocab_size,
        "val_pieces": len(val),
        "val_tokens": int(sum(len(s) - 1 for s in val)),
        "arch": arch,
        "representation": info.config.data.representation,
        "checkpoint": runs.MODEL,
        "best_epoch": info.history.get("best_epoch"),
        "evaluated_at": time.time(),
    }
    metrics["beats_baseline"] = bool(metrics["model"]["nll"] < metrics["baseline"]["nll"])
    runs.atomic_write_json(info.path / runs.METRICS, metrics)
    return metrics


def _evaluate_frames(info: runs.RunInfo, data: Any) -> dict[str, Any]:
    """metrics.json of a piano-roll run: frame NLL of the best model and of the per-key Markov floor."""
    from musegen.pianoroll import N_KEYS
    from musegen.polyphonic import MarkovFloor, frame_nll

    val = [np.asarray(s, np.uint8) for s in data.val if len(s) > 1]
    if not val:
        raise DatasetError(
            f"run {info.run_id} has no validation piece of two frames or more; train with val_fraction > 0 "
            "and at least two pieces."
        )
    model = info.load_model("best")
    if int(model.outputs[0].shape[-1]) != N_KEYS:
        raise ModelLoadError(f"{info.path / runs.MODEL} is not a piano-roll model; train the run again.")
    t0 = time.perf_counter()
    scores = frame_nll(model, val)
    scores["seconds"] = round(time.perf_counter() - t0, 3)
    scores["tokens"] = scores["frames"]
    floor = MarkovFloor().fit([np.asarray(s, np.uint8) for s in data.train if len(s) > 1]).score(val)
    metrics = {
        "model": scores,
        # a per-key first-order Markov chain is a per-key 2-gram
        "baseline": {**floor, "order": 2, "tokens": floor["frames"]},
        "uniform_nll": N_KEYS * math.log(2.0),  # every key a fair coin
        "vocab_size": N_KEYS,
        "val_pieces": len(val),
        "val_tokens": int(scores["frames"]),
        "arch": info.config.model.arch,
        "representation": "pianoroll",
        "unit": "frame",  # NLL per predicted frame (sum over the 88 keys), not per token
        "checkpoint": runs.MODEL,
        "best_epoch": info.history.get("best_epoch"),
        "evaluated_at": time.time(),
    }
    metrics["beats_baseline"] = bool(scores["nll"] < floor["nll"])
    runs.atomic_write_json(info.path / runs.METRICS, metrics)
    return metrics


def score_baseline(train: list[np.ndarray], val: list[np.ndarray], vocab_size: int) -> dict[str, Any]:
    """The n-gram floor: order selected on ``val``, scored on ``val``."""
    from musegen.baseline import select_order

    ngram = select_order(train, val, vocab_size)
    return {"kind": "n-gram", "order": getattr(ngram, "order", None), **_plain(ngram.score(val))}


def score_sequence(model: Any, seqs: list[np.ndarray], window: int) -> dict[str, float]:
    """Held-out scores of a many-to-many model that returns logits (B, T, V)."""
    xs, ys, ws = [], [], []
    for seq in seqs:
        for x, y, w in _sliding_windows(seq, window):
            xs.append(x)
            ys.append(y)
            ws.append(w)
    x, y, w = np.stack(xs), np.stack(ys), np.stack(ws)
    nll = correct = 0.0
    for i in range(0, len(x), EVAL_BATCH):
        logits = np.asarray(model(x[i : i + EVAL_BATCH], training=False), dtype=np.float64)
        logp = logits - _logsumexp(logits)
        yb, wb = y[i : i + EVAL_BATCH], w[i : i + EVAL_BATCH]
        picked = np.take_along_axis(logp, yb[..., None], axis=-1)[..., 0]
        nll -= float((picked * wb).sum())
        correct += float(((logp.argmax(-1) == yb) * wb).sum())
    return _summary(nll, correct, float(w.sum()))


def score_classic(model: Any, seqs: list[np.ndarray], window: int, vocab_size: int) -> dict[str, float]:
    """Held-out scores of a tutorial model (``id / n_vocab`` windows -> softmax over the next id)."""
    nll = correct = 0.0
    count = 0
    for x, y in _classic_examples(seqs, window, vocab_size):
        probs = np.asarray(model(x, training=False), dtype=np.float64)
        p = np.clip(probs[np.arange(len(y)), y], 1e-12, 1.0)
        nll -= float(np.log(p).sum())
        correct += float((probs.argmax(-1) == y).sum())
        count += len(y)
    return _summary(nll, correct, float(count))


def _sliding_windows(seq: np.ndarray, window: int):
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


def _classic_examples(seqs: list[np.ndarray], window: int, vocab_size: int, bos_id: int = 2):
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


def _logsumexp(a: np.ndarray) -> np.ndarray:
    m = a.max(-1, keepdims=True)
    return m + np.log(np.exp(a - m).sum(-1, keepdims=True))


def _summary(nll: float, correct: float, count: float) -> dict[str, float]:
    mean = nll / count
    return {"nll": mean, "perplexity": math.exp(min(mean, 700.0)), "accuracy": correct / count, "tokens": int(count)}


def _plain(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.item() if hasattr(v, "item") else v) for k, v in d.items()}
