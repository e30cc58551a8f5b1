"""Sampling new token sequences from a trained model.

``sample_next`` is pure numpy (greedy, temperature, top-k, top-p). ``generate_ids`` runs the
compiled incremental decoder of :mod:`musegen.models.incremental` with all variations in one
batch; ``generate_ids_predict_loop`` is the tutorial's ``model.predict``-per-token loop, kept
only as the benchmark's reference. TensorFlow is imported lazily, inside the model functions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from musegen.config import SamplingConfig
from musegen.errors import ConfigError, TrainingError

if TYPE_CHECKING:
    import keras

PAD_ID = 0
BOS_ID = 2
ProgressFn = Callable[[int, int], None]  # (tokens done, tokens total)


def sample_next(
    logits: np.ndarray, cfg: SamplingConfig, rng: np.random.Generator, forbid_ids: Sequence[int] = ()
) -> np.ndarray:
    """Draw one token id per row of ``logits`` (B, V) under ``cfg``; returns int64 (B,)."""
    z = np.array(logits, dtype=np.float64, ndmin=2)  # a copy: the caller's array is untouched
    if np.isnan(z).any():
        raise TrainingError("the model produced NaN scores; it has diverged. Retrain with a lower learning rate.")
    z[:, [i for i in forbid_ids if 0 <= i < z.shape[1]]] = -np.inf  # e.g. pad and bos never come out
    if cfg.greedy or cfg.temperature == 0 or cfg.top_k == 1:
        return z.argmax(axis=1)  # the tutorial's argmax; no division by a zero temperature
    z = z / cfg.temperature
    if 0 < cfg.top_k < z.shape[1]:  # keep the k best: everything below the k-th largest goes
        kth = np.partition(z, -cfg.top_k, axis=1)[:, -cfg.top_k, None]
        z = np.where(z < kth, -np.inf, z)
    p = np.exp(z - z.max(axis=1, keepdims=True))  # stable softmax; exp(-inf) = 0, never log(0)
    p /= p.sum(axis=1, keepdims=True)
    if cfg.top_p < 1.0:  # nucleus: the smallest set of most likely tokens holding top_p of the mass
        order = np.argsort(-p, axis=1)
        sorted_p = np.take_along_axis(p, order, axis=1)
        before = np.cumsum(sorted_p, axis=1) - sorted_p  # mass of the tokens ranked above each one
        keep = np.zeros_like(p, dtype=bool)
        np.put_along_axis(keep, order, before < cfg.top_p, axis=1)  # the first token is always kept
        p = np.where(keep, p, 0.0)
        p /= p.sum(axis=1, keepdims=True)
    cdf = np.cumsum(p, axis=1)  # inverse-CDF draw: the first token whose CDF passes a uniform u
    u = rng.random((p.shape[0], 1)) * cdf[:, -1:]
    last_possible = p.shape[1] - 1 - (p[:, ::-1] > 0).argmax(axis=1)  # guards u rounding up to the total
    return np.minimum((cdf <= u).sum(axis=1), last_possible)


def _prepare(seed_ids: np.ndarray, cfg: SamplingConfig, forbid_ids: Sequence[int]) -> np.ndarray:
    cfg.validate(max_length=max(cfg.length, 1))  # the length cap is the caller's (Limits); the rest is checked here
    seed = np.asarray(seed_ids, dtype=np.int64).reshape(-1)
    if seed.size == 0:  # nothing to continue from: start a piece
        seed = np.array([BOS_ID], dtype=np.int64)
    return np.tile(seed, (cfg.variations, 1))


def _check_vocab(model: keras.Model, seeds: np.ndarray, forbid_ids: Sequence[int]) -> int:
    vocab = int(model.outputs[0].shape[-1])
    if seeds.min() < 0 or seeds.max() >= vocab:
        raise ConfigError(f"seed token ids must be in 0..{vocab - 1} for this model; got {seeds.min()}..{seeds.max()}.")
    if len(set(forbid_ids) & set(range(vocab))) >= vocab:
        raise ConfigError("every token is forbidden; nothing can be sampled.")
    return vocab


def generate_ids(
    model: keras.Model,
    seed_ids: np.ndarray,
    cfg: SamplingConfig,
    *,
    on_progress: ProgressFn | None = None,
    forbid_ids: Sequence[int] = (PAD_ID, BOS_ID),
    rng: np.random.Generator | None = None,
) -> list[np.ndarray]:
    """Continue ``seed_ids`` (T,) ``cfg.length`` tokens, ``cfg.variations`` pieces in one batch.

    Returns one int32 array of ``cfg.length`` new ids per variation (the seed not included).
    Any seed length works: a short one is simply a shorter context (classic models pad it to
    their window), a long one is read in full. The same ``cfg.seed`` gives the same result;
    ``rng``, when given, is used instead of a generator seeded with ``cfg.seed``.
    ``on_progress(done, total)`` is called after every token.
    """
    from musegen.models.incremental import make_stepper

    seeds = _prepare(seed_ids, cfg, forbid_ids)
    _check_vocab(model, seeds, forbid_ids)
    rng = rng if rng is not None else np.random.default_rng(cfg.seed)
    stepper = make_stepper(model, cfg.variations, pad_id=PAD_ID)
    out = np.empty((cfg.variations, cfg.length), dtype=np.int32)
    logits = stepper.prime(seeds)
    for i in range(cfg.length):
        out[:, i] = sample_next(logits, cfg, rng, forbid_ids)
        if on_progress is not None:
            on_progress(i + 1, cfg.length)
        if i + 1 < cfg.length:
            logits = stepper.step(out[:, i])
    return list(out)


def generate_ids_predict_loop(
    model: keras.Model,
    seed_ids: np.ndarray,
    cfg: SamplingConfig,
    *,
    window: int = 128,
    forbid_ids: Sequence[int] = (PAD_ID, BOS_ID),
) -> list[np.ndarray]:
    """The tutorial's loop: ``model.predict`` on the last ``window`` tokens, once per token.

    Slow by design (a full forward pass and ``predict``'s set-up per token); the benchmark's
    reference point. Sequence models see a left-padded window and use its last position.
    """
    from musegen.models.incremental import is_sequence_model

    seeds = _prepare(seed_ids, cfg, forbid_ids)
    vocab = _check_vocab(model, seeds, forbid_ids)
    sequence = is_sequence_model(model)
    if not sequence:
        window = int(model.inputs[0].shape[1])
    rng = np.random.default_rng(cfg.seed)
    ids = np.full((cfg.variations, window), PAD_ID, dtype=np.int64)
    tail = seeds[:, -window:]
    ids[:, window - tail.shape[1] :] = tail
    out = np.empty((cfg.variations, cfg.length), dtype=np.int32)
    for i in range(cfg.length):
        if sequence:
            logits = model.predict(ids.astype(np.int32), verbose=0)[:, -1]
        else:
            probs = model.predict((ids / vocab).astype(np.float32)[..., None], verbose=0)
            logits = np.log(np.maximum(probs, 1e-30))
        out[:, i] = sample_next(logits, cfg, rng, forbid_ids)
        ids = np.concatenate([ids[:, 1:], out[:, i : i + 1]], axis=1)
    return list(out)
