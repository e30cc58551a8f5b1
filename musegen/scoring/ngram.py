"""The floor every neural model must beat: an n-gram model on the same token ids.

Smoothing: interpolated Kneser-Ney (Chen and Goodman 1998, "An Empirical Study of Smoothing
Techniques for Language Modeling"), one absolute discount per order, D = n1 / (n1 + 2 n2):

    P_k(w | h) = max(c_k(h w) - D_k, 0) / c_k(h) + D_k * N1+(h .) / c_k(h) * P_{k-1}(w | h')
    P_0(w) = 1 / V  (so tokens never seen in training keep some probability)

where h' drops the oldest token of h, c_k are raw counts at the highest order and continuation
counts (the number of distinct tokens seen before ``h w``) at the lower orders, and an unseen
context falls through to the lower order. Each piece is left-padded with a start symbol, so the
first tokens are predicted from short histories.

Scoring targets match the neural models': every token after the first of each piece (the first
has no history), in nats per token. Pure python and numpy.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from musegen.errors import ConfigError, DatasetError

DEFAULT_ORDERS = range(1, 11)  # on timed chorale tokens validation NLL still falls at order 10 (a note is 2-3 tokens)
_Level = dict[tuple[int, ...], tuple[dict[int, float], float]]  # context -> ({next: count}, total)


def _discount(counts: Iterable[int]) -> float:
    """Chen and Goodman's D = n1 / (n1 + 2 n2), kept within [0.1, 0.95] for tiny data."""
    hist = Counter(c for c in counts if c <= 2)
    n1, n2 = hist.get(1, 0), hist.get(2, 0)
    d = n1 / (n1 + 2 * n2) if n1 + n2 else 0.75
    return min(max(d, 0.1), 0.95)


def _group(ngrams: dict[tuple[int, ...], int]) -> _Level:
    """k-gram counts regrouped by context: context -> ({next id: count}, total count)."""
    by_context: dict[tuple[int, ...], dict[int, float]] = defaultdict(dict)
    for gram, count in ngrams.items():
        by_context[gram[:-1]][gram[-1]] = float(count)
    return {ctx: (d, sum(d.values())) for ctx, d in by_context.items()}


@dataclass
class NGramModel:
    """Interpolated Kneser-Ney n-gram model of ``order`` over ids 0..vocab_size-1."""

    order: int
    vocab_size: int
    max_order: int = 0  # counts kept up to this order (>= order), so lower orders are free views
    order_scores: dict[int, float] = field(default_factory=dict)  # validation NLL per order tried
    _raw: list[_Level] = field(default_factory=list, repr=False)  # index k: k-grams, raw counts
    _cont: list[_Level] = field(default_factory=list, repr=False)  # index k: continuation counts
    _d_raw: list[float] = field(default_factory=list, repr=False)
    _d_cont: list[float] = field(default_factory=list, repr=False)

    @property
    def start(self) -> int:
        """The padding symbol before each piece (one past the vocabulary, never predicted)."""
        return self.vocab_size

    def fit(self, seqs: Sequence[np.ndarray]) -> NGramModel:
        """Count every k-gram (k <= max order) of the pieces in ``seqs``."""
        n = max(self.order, self.max_order)
        self.max_order = n
        counts: list[dict[tuple[int, ...], int]] = [{} for _ in range(n + 1)]
        for seq in self._padded(seqs, n):
            for i in range(n - 1, len(seq)):
                for k in range(1, n + 1):
                    gram = seq[i - k + 1 : i + 1]
                    counts[k][gram] = counts[k].get(gram, 0) + 1
        if not counts[1]:
            raise DatasetError("the n-gram baseline needs at least one training token.")
        cont: list[dict[tuple[int, ...], int]] = [{} for _ in range(n + 1)]
        for k in range(1, n):
            for gram in counts[k + 1]:  # each distinct (u, g) adds one left extension to g
                cont[k][gram[1:]] = cont[k].get(gram[1:], 0) + 1
        self._raw = [{}] + [_group(counts[k]) for k in range(1, n + 1)]
        self._cont = [{}] + [_group(cont[k]) for k in range(1, n)] + [{}]
        self._d_raw = [0.0] + [_discount(counts[k].values()) for k in range(1, n + 1)]
        self._d_cont = [0.0] + [_discount(cont[k].values()) for k in range(1, n)] + [0.0]
        return self

    def with_order(self, order: int) -> NGramModel:
        """The same counts used as an ``order``-gram model (order <= the fitted max order)."""
        if not 1 <= order <= self.max_order:
            raise ValueError(f"order must be 1..{self.max_order}, got {order}.")
        return NGramModel(order, self.vocab_size, self.max_order, dict(self.order_scores),
                          self._raw, self._cont, self._d_raw, self._d_cont)  # fmt: skip

    def _padded(self, seqs: Iterable[np.ndarray], n: int) -> Iterable[tuple[int, ...]]:
        for seq in seqs:
            ids = np.asarray(seq, dtype=np.int64).reshape(-1)
            if ids.size and (ids.min() < 0 or ids.max() >= self.vocab_size):
                raise DatasetError(f"token ids must be in 0..{self.vocab_size - 1}; got {ids.min()}..{ids.max()}.")
            yield (self.start,) * (n - 1) + tuple(int(i) for i in ids)

    def _levels(self):
        """(k, level, discount) from order 1 up: continuation counts below the top, raw counts at it."""
        for k in range(1, self.order + 1):
            top = k == self.order
            yield k, (self._raw[k] if top else self._cont[k]), (self._d_raw[k] if top else self._d_cont[k])

    def distribution(self, history: Sequence[int]) -> np.ndarray:
        """P(next | the last order-1 tokens of ``history``), a length-V vector summing to 1."""
        p = np.full(self.vocab_size, 1.0 / self.vocab_size)
        hist = (self.start,) * (self.order - 1) + tuple(history)
        for k, level, d in self._levels():
            entry = level.get(hist[len(hist) - k + 1 :] if k > 1 else ())
            if entry is None:  # unseen context: keep the lower-order distribution
                continue
            following, total = entry
            words = np.fromiter(following.keys(), np.int64, len(following))
            counts = np.fromiter(following.values(), np.float64, len(following))
            p = p * (d * len(words) / total)
            p[words] += np.maximum(counts - d, 0.0) / total
        return p

    def prob(self, history: Sequence[int], token: int) -> float:
        """P(token | history), the same recursion as :meth:`distribution` for one token (fast)."""
        p = 1.0 / self.vocab_size
        hist = (self.start,) * (self.order - 1) + tuple(history)
        for k, level, d in self._levels():
            entry = level.get(hist[len(hist) - k + 1 :] if k > 1 else ())
            if entry is not None:
                following, total = entry
                p = (max(following.get(token, 0.0) - d, 0.0) + d * len(following) * p) / total
        return p

    def score(self, seqs: Sequence[np.ndarray], accuracy: bool = True) -> dict[str, float]:
        """NLL (nats/token), perplexity and top-1 accuracy on every token after the first of each piece."""
        nll, hits, n = 0.0, 0, 0
        for seq in seqs:
            ids = [int(i) for i in np.asarray(seq).reshape(-1)]
            for t in range(1, len(ids)):
                history = ids[max(0, t - self.order + 1) : t]
                nll -= math.log(self.prob(history, ids[t]))
                if accuracy:
                    hits += int(self.distribution(history).argmax()) == ids[t]
                n += 1
        if n == 0:
            raise DatasetError("no tokens to score: every piece has fewer than 2 tokens.")
        mean = nll / n
        result = {"nll": mean, "perplexity": math.exp(mean), "tokens": float(n)}
        if accuracy:
            result["accuracy"] = hits / n
        return result


def fit_ngram(train: Sequence[np.ndarray], vocab_size: int, order: int) -> NGramModel:
    """An interpolated Kneser-Ney model of a fixed ``order`` fitted on ``train``."""
    return NGramModel(order, vocab_size).fit(train)


def select_order(
    train: Sequence[np.ndarray], val: Sequence[np.ndarray], vocab_size: int, orders: Iterable[int] = DEFAULT_ORDERS
) -> NGramModel:
    """Fit once up to the highest order; return the order with the lowest validation NLL.

    The per-order validation NLLs are kept in ``model.order_scores``.
    """
    orders = sorted(set(orders))
    if not orders or orders[0] < 1:
        raise ConfigError(f"n-gram orders must be whole numbers >= 1, got {orders}.")
    full = NGramModel(orders[-1], vocab_size).fit(train)
    scores = {k: full.with_order(k).score(val, accuracy=False)["nll"] for k in orders}
    best = full.with_order(min(scores, key=scores.__getitem__))
    best.order_scores = scores
    return best


def score_baseline(train: list[np.ndarray], val: list[np.ndarray], vocab_size: int) -> dict[str, Any]:
    """The n-gram floor: order selected on ``val``, scored on ``val``."""
    ngram = select_order(train, val, vocab_size)
    scores = {k: (v.item() if hasattr(v, "item") else v) for k, v in ngram.score(val).items()}
    return {"kind": "n-gram", "order": getattr(ngram, "order", None), **scores}
