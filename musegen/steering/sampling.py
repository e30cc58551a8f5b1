"""One sampling step over a softmax: the next token of every row of a batch of logits.

``sample_next`` is pure numpy (greedy, temperature, top-k, top-p): the token representations'
sampling step (:meth:`musegen.representations.base.Representation.sample`). The decoding loop
that calls it once per generated token is :mod:`musegen.generation.decode`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from musegen.config import SamplingConfig
from musegen.errors import TrainingError


def sample_next(
    logits: np.ndarray,
    cfg: SamplingConfig,
    rng: np.random.Generator,
    forbid_ids: Sequence[int] = (),
    duration_ids: Sequence[int] | np.ndarray = (),
) -> np.ndarray:
    """Draw one token id per row of ``logits`` (B, V) under ``cfg``; returns int64 (B,).

    ``duration_ids`` (the tokens of a note's length) are drawn at ``cfg.duration_temperature`` instead
    of ``cfg.temperature`` when that is set; greedy decoding takes the argmax of everything."""
    z = np.array(logits, dtype=np.float64, ndmin=2)  # a copy: the caller's array is untouched
    if np.isnan(z).any():
        raise TrainingError("the model produced NaN scores; it has diverged. Retrain with a lower learning rate.")
    z[:, [i for i in forbid_ids if 0 <= i < z.shape[1]]] = -np.inf  # e.g. pad and bos never come out
    if cfg.greedy or cfg.temperature == 0 or cfg.top_k == 1:
        return z.argmax(axis=1)  # the tutorial's argmax; no division by a zero temperature
    own = cfg.duration_temperature
    if len(duration_ids) and own is not None and own != cfg.temperature:
        z = _two_temperatures(z, cfg.temperature, np.asarray(duration_ids), own)
    else:
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


def _two_temperatures(z: np.ndarray, temperature: float, ids: np.ndarray, own: float) -> np.ndarray:
    """Log-probabilities where the tokens ``ids`` keep, as a group, the share of probability that
    ``temperature`` gives them, and are drawn among themselves at their ``own`` temperature; the others
    as at ``temperature``. (Dividing their logits alone by another temperature would not do: logits have
    no fixed offset, so the share between the groups would depend on it.) Every row has a finite logit
    (pad and bos are the only tokens always forbidden); the group's may all be -inf."""
    a = z / temperature
    p = np.exp(a - a.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    mass = p[:, ids].sum(axis=1, keepdims=True)  # the group's probability
    b = z[:, ids] / own
    top = b.max(axis=1, keepdims=True)
    q = np.exp(b - np.where(np.isfinite(top), top, 0.0))
    total = q.sum(axis=1, keepdims=True)
    p[:, ids] = mass * q / np.where(total > 0, total, 1.0)
    with np.errstate(divide="ignore"):
        return np.log(p)
