"""Motif memory: a piece repeats its own figures, so the sampler remembers what it has played.

Music is self-similar: an accompaniment figure comes back bar after bar, a motif returns. The real
piano pieces repeat a third of their 4-note figures (BENCHMARKS.md, "Piano that breathes"); models
trained for minutes almost never do, because a network with a finite field and a short training
run has not learned to copy. A cache language model (Kuhn & De Mori 1990) is the classic remedy:
mix the model's next-token probabilities with a distribution read from the sequence so far.

:class:`MotifMemory` keeps, for every row of a generated batch, the tokens read and drawn so far
(the seed included), without the ones that vary between repeats of a figure (velocities: a motif
played louder is the same motif; and the special tokens). Before each draw it finds the longest
recent context, from :data:`MIN_CONTEXT` to :data:`MAX_CONTEXT` of those tokens, that has occurred
before in the row, and what followed it each time: the cache distribution ``c``. With strength
``λ`` (``SamplingConfig.motif_memory``), the probabilities become

    p'(t) = (1 - λ) p(t) + λ M c(t)   for remembered tokens t,    p'(t) = p(t)   for the others,

where ``M`` is the model's probability of the remembered kinds of token: the memory changes which
figure comes, never whether a velocity or a duration comes next, so it keeps the grammar the model
keeps. It mixes after the constraints (:mod:`musegen.steering.constraints`) have masked what their
rules forbid, so it never proposes a forbidden token, and under the grammar ``M`` is exactly the
share of the remembered kinds among what may come next. Temperature and top-k then apply to ``p'``
as to ``p``.
A context never seen before leaves ``p`` as it is, so the memory only continues what has begun to
repeat, and the model decides when a figure begins and when it ends.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence

import numpy as np

from musegen.config import SamplingConfig
from musegen.steering.constraints import DrawFn

MIN_CONTEXT = 4  # the shortest context that is a figure: about two notes of timed tokens
MAX_CONTEXT = 12  # the longest context looked up: about four notes
FEW = 24  # a figure seen at most this often is matched in Python; more often, in numpy

# suggested_strength: music whose openings keep more than SUGGEST_FROM of their 4-note figures distinct
# gets no memory; below, the strength grows by SUGGEST_SLOPE per unit of repetition, up to SUGGEST_MAX.
# Calibrated on the two datasets at hand (BENCHMARKS.md, "Motif memory"): the real piano pieces (0.64)
# were closest to the held-out pieces at 0.5, Bach's chorales (0.95) at 0.
SUGGEST_FROM = 0.9
SUGGEST_SLOPE = 2.0
SUGGEST_MAX = 0.8


def suggested_strength(repetition: float) -> float:
    """The motif memory for music whose figure repetition
    (:func:`musegen.metrics.music.figure_repetition`, averaged over pieces) is ``repetition``,
    rounded to the Generate page's steps of 0.05."""
    raw = SUGGEST_SLOPE * (SUGGEST_FROM - float(repetition))
    return float(np.clip(round(raw * 20) / 20, 0.0, SUGGEST_MAX))


class MotifMemory:
    """The cache of one batch of generated token sequences; see the module doc.

    ``width`` is the vocabulary size, ``skip_ids`` the tokens left out of contexts and never
    proposed (velocities, specials), ``strength`` the mixing weight λ in [0, 1).

    Per row it keeps the remembered tokens (4 bytes each) and an index from each figure of
    :data:`MIN_CONTEXT` tokens to the positions that followed it (4 bytes each): a lookup takes the
    positions of the last figure and extends each match back, up to :data:`MAX_CONTEXT` tokens. Its
    memory is 8 bytes per remembered token and one entry per distinct figure, where a dictionary of
    every context of 4 to 12 tokens took nine tuples per token (BENCHMARKS.md, "Motif memory").
    """

    def __init__(self, width: int, batch: int, strength: float, skip_ids: Sequence[int] | np.ndarray = ()):
        self.width = int(width)
        self.strength = float(strength)
        self.remembered = np.ones(self.width, dtype=bool)
        skip = np.asarray(skip_ids, dtype=np.int64).ravel()
        self.remembered[skip[(skip >= 0) & (skip < self.width)]] = False
        self.history: list[array[int]] = [array("i") for _ in range(int(batch))]
        # per row: a figure of MIN_CONTEXT tokens (as one integer, base width) -> the positions that followed it
        self.index: list[dict[int, array[int]]] = [{} for _ in range(int(batch))]
        self._figure = [0] * int(batch)  # each row's last MIN_CONTEXT tokens as that integer
        self._modulus = self.width**MIN_CONTEXT
        self.used = 0  # draws where the memory had a context to continue (for tests and statistics)

    def prime(self, prompt: np.ndarray) -> None:
        """Read the prompt (B, T) the model is primed with."""
        for row, ids in enumerate(np.asarray(prompt).reshape(len(self.history), -1).tolist()):
            for token in ids:
                self._add(row, int(token))

    def observe(self, drawn: np.ndarray) -> None:
        """Remember the tokens just drawn (B,)."""
        for row, token in enumerate(np.asarray(drawn).ravel().tolist()):
            self._add(row, int(token))

    def _add(self, row: int, token: int) -> None:
        if not (0 <= token < self.width and self.remembered[token]):
            return
        h = self.history[row]
        if len(h) >= MIN_CONTEXT:  # the last figure was followed by this position
            index = self.index[row]
            positions = index.get(self._figure[row])
            if positions is None:
                index[self._figure[row]] = array("i", (len(h),))
            else:
                positions.append(len(h))
        h.append(token)
        self._figure[row] = (self._figure[row] * self.width + token) % self._modulus

    def _followers(self, row: int) -> tuple[list[int], int] | np.ndarray | None:
        """What followed the longest context ending row ``row`` that occurred before: the tokens, in the
        order they came (few), or their counts over the vocabulary (many); None where no context did."""
        h = self.history[row]
        n = len(h)
        positions = self.index[row].get(self._figure[row]) if n > MIN_CONTEXT else None
        if positions is None:  # every position indexed is < n: the last figure is indexed once followed
            return None
        if len(positions) <= FEW:
            best, nexts = -1, []
            for end in positions:
                k, limit = MIN_CONTEXT, min(MAX_CONTEXT, end)
                while k < limit and h[end - k - 1] == h[n - k - 1]:
                    k += 1
                if k > best:
                    best, nexts = k, [h[end]]
                elif k == best:
                    nexts.append(h[end])
            return nexts, best
        tokens = np.frombuffer(h, dtype=np.int32)  # views, gone on return (an array with a view cannot grow)
        ends = np.frombuffer(positions, dtype=np.int32)
        back = np.arange(MIN_CONTEXT + 1, MAX_CONTEXT + 1)
        starts = ends[:, None] - back  # where each longer context would begin
        same = (starts >= 0) & (tokens[starts.clip(0)] == tokens[(n - back).clip(0)])
        length = np.cumprod(same, axis=1).sum(axis=1)  # tokens matched beyond MIN_CONTEXT
        return np.bincount(tokens[ends[length == length.max()]], minlength=self.width)

    def _counts(self, row: int) -> np.ndarray | None:
        """What followed the longest context ending row ``row`` that occurred before, counted over the
        vocabulary (None: no context of MIN_CONTEXT tokens did)."""
        found = self._followers(row)
        if found is None or isinstance(found, np.ndarray):
            return found
        return np.bincount(np.array(found[0], dtype=np.int64), minlength=self.width)

    def continuation(self, row: int) -> dict[int, int] | None:
        """What followed the longest context that ends row ``row`` and occurred before (None: none did)."""
        counts = self._counts(row)
        return None if counts is None else {int(t): int(counts[t]) for t in np.flatnonzero(counts)}

    def mix(self, logits: np.ndarray) -> np.ndarray:
        """``logits`` (B, width) with the memory mixed in, as log-probabilities (rows without a context unchanged)."""
        z = np.array(logits, dtype=np.float64, ndmin=2)
        if self.strength <= 0:
            return z
        for row in range(z.shape[0]):
            counts = self._counts(row)
            if counts is None:
                continue
            top = z[row].max()
            if not np.isfinite(top):
                continue
            p = np.exp(z[row] - top)
            p /= p.sum()
            mass = float(p[self.remembered].sum())  # the model's probability of the remembered kinds
            if mass <= 0:
                continue
            counts = counts.astype(np.float64)
            counts[p == 0] = 0.0  # what the rules forbid now (a -inf logit) is never proposed
            if not counts.any():
                continue
            p[self.remembered] *= 1.0 - self.strength
            p += self.strength * mass * counts / counts.sum()
            with np.errstate(divide="ignore"):
                z[row] = np.log(p)
            self.used += 1
        return z

    def wrap(self, draw: DrawFn) -> DrawFn:
        """``draw`` on the mixed logits; the drawn tokens are remembered."""

        def remembering(logits: np.ndarray, cfg: SamplingConfig, rng: np.random.Generator) -> np.ndarray:
            drawn = draw(self.mix(logits), cfg, rng)
            self.observe(drawn)
            return drawn

        return remembering
