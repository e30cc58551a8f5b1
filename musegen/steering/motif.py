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

from collections.abc import Sequence

import numpy as np

from musegen.config import SamplingConfig
from musegen.steering.constraints import DrawFn

MIN_CONTEXT = 4  # the shortest context that is a figure: about two notes of timed tokens
MAX_CONTEXT = 12  # the longest context looked up: about four notes

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
    """

    def __init__(self, width: int, batch: int, strength: float, skip_ids: Sequence[int] | np.ndarray = ()):
        self.width = int(width)
        self.strength = float(strength)
        self.remembered = np.ones(self.width, dtype=bool)
        skip = np.asarray(skip_ids, dtype=np.int64).ravel()
        self.remembered[skip[(skip >= 0) & (skip < self.width)]] = False
        self.history: list[list[int]] = [[] for _ in range(int(batch))]
        # per row: context (a tuple of tokens) -> {next token: times it followed}
        self.follow: list[dict[tuple[int, ...], dict[int, int]]] = [{} for _ in range(int(batch))]
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
        h, follow = self.history[row], self.follow[row]
        n = len(h)
        for k in range(MIN_CONTEXT, min(MAX_CONTEXT, n) + 1):
            after = follow.setdefault(tuple(h[n - k :]), {})
            after[token] = after.get(token, 0) + 1
        h.append(token)

    def continuation(self, row: int) -> dict[int, int] | None:
        """What followed the longest context that ends row ``row`` and occurred before (None: none did)."""
        h, follow = self.history[row], self.follow[row]
        for k in range(min(MAX_CONTEXT, len(h)), MIN_CONTEXT - 1, -1):
            after = follow.get(tuple(h[len(h) - k :]))
            if after:
                return after
        return None

    def mix(self, logits: np.ndarray) -> np.ndarray:
        """``logits`` (B, width) with the memory mixed in, as log-probabilities (rows without a context unchanged)."""
        z = np.array(logits, dtype=np.float64, ndmin=2)
        if self.strength <= 0:
            return z
        for row in range(z.shape[0]):
            after = self.continuation(row)
            if after is None:
                continue
            top = z[row].max()
            if not np.isfinite(top):
                continue
            p = np.exp(z[row] - top)
            p /= p.sum()
            mass = float(p[self.remembered].sum())  # the model's probability of the remembered kinds
            if mass <= 0:
                continue
            ids = np.fromiter(after.keys(), dtype=np.int64, count=len(after))
            counts = np.fromiter(after.values(), dtype=np.float64, count=len(after))
            counts[p[ids] == 0] = 0.0  # what the rules forbid now (a -inf logit) is never proposed
            if not counts.any():
                continue
            p[self.remembered] *= 1.0 - self.strength
            p[ids] += self.strength * mass * counts / counts.sum()
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
