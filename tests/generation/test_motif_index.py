"""The motif memory's index of figures makes the decisions of a dictionary of every context, in bounded memory.

:class:`Reference` is the first implementation, kept here as the statement of what the memory
does: every context of MIN_CONTEXT to MAX_CONTEXT remembered tokens mapped to what followed it.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from musegen.steering.motif import FEW, MAX_CONTEXT, MIN_CONTEXT, MotifMemory


class Reference:
    """The straightforward motif memory: per row, context tuple -> {next token: times it followed}."""

    def __init__(self, width: int, batch: int, skip_ids: list[int]):
        self.width = width
        self.skip = set(skip_ids)
        self.history: list[list[int]] = [[] for _ in range(batch)]
        self.follow: list[dict[tuple[int, ...], dict[int, int]]] = [{} for _ in range(batch)]

    def add(self, row: int, token: int) -> None:
        if not 0 <= token < self.width or token in self.skip:
            return
        h = self.history[row]
        for k in range(MIN_CONTEXT, min(MAX_CONTEXT, len(h)) + 1):
            after = self.follow[row].setdefault(tuple(h[len(h) - k :]), {})
            after[token] = after.get(token, 0) + 1
        h.append(token)

    def continuation(self, row: int) -> dict[int, int] | None:
        h = self.history[row]
        for k in range(min(MAX_CONTEXT, len(h)), MIN_CONTEXT - 1, -1):
            after = self.follow[row].get(tuple(h[len(h) - k :]))
            if after:
                return after
        return None


def reference_mix(ref: Reference, row: int, z: np.ndarray, strength: float, remembered: np.ndarray) -> np.ndarray:
    """The first implementation's mixing of one row (None-free: the row unchanged where it does not mix)."""
    after = ref.continuation(row)
    top = z.max()
    if after is None or not np.isfinite(top):
        return z
    p = np.exp(z - top)
    p /= p.sum()
    mass = float(p[remembered].sum())
    ids = np.fromiter(after.keys(), dtype=np.int64, count=len(after))
    counts = np.fromiter(after.values(), dtype=np.float64, count=len(after))
    counts[p[ids] == 0] = 0.0
    if mass <= 0 or not counts.any():
        return z
    p[remembered] *= 1.0 - strength
    p[ids] += strength * mass * counts / counts.sum()
    with np.errstate(divide="ignore"):
        return np.log(p)


def random_stream(rng: np.random.Generator, width: int, length: int) -> np.ndarray:
    """Random tokens with figures that come back: a motif over and over, stretches copied from earlier, others fresh."""
    motif = rng.integers(0, width, 6).tolist()
    out: list[int] = []
    while len(out) < length:
        if rng.random() < 0.2:
            out.extend(motif)
        elif len(out) > 20 and rng.random() < 0.6:
            start = int(rng.integers(0, len(out) - 4))
            out.extend(out[start : start + int(rng.integers(3, 16))])
        else:
            out.extend(rng.integers(-1, width + 1, int(rng.integers(1, 8))).tolist())  # out of range too
    return np.array(out[:length])


@pytest.mark.parametrize("width, skip", [(6, [0]), (12, [0, 1, 11]), (300, [5])])
def test_the_same_continuations_and_mixes_as_the_reference(width, skip):
    rng = np.random.default_rng(width)
    batch, length = 3, 700
    memory, ref = MotifMemory(width, batch, 0.4, skip), Reference(width, batch, skip)
    streams = np.stack([random_stream(rng, width, length) for _ in range(batch)])
    prompt = streams[:, :10].clip(0, width - 1)
    memory.prime(prompt)
    for row in range(batch):
        for token in prompt[row].tolist():
            ref.add(row, token)
    used = 0
    for i in range(10, length):
        logits = rng.normal(size=(batch, width))
        logits[rng.random((batch, width)) < 0.2] = -np.inf  # what a rule forbids
        mixed = memory.mix(logits)
        for row in range(batch):
            assert memory.continuation(row) == ref.continuation(row)
            expected = reference_mix(ref, row, logits[row].astype(np.float64), 0.4, memory.remembered)
            np.testing.assert_array_equal(mixed[row], expected)  # bit for bit
            used += not np.array_equal(expected, logits[row])
            ref.add(row, int(streams[row, i]))
        memory.observe(streams[:, i])
    assert memory.used == used > length // 2  # the figures came back, and were continued alike
    assert max(len(p) for index in memory.index for p in index.values()) > FEW  # both ways of matching ran


def test_memory_grows_with_the_figures_not_with_every_context():
    width, batch, length = 195, 4, 5000
    rng = np.random.default_rng(0)
    stream = rng.integers(0, width, (batch, length))  # all new figures: the worst case for the memory
    tracemalloc.start()
    memory = MotifMemory(width, batch, 0.5)
    memory.prime(stream)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert sum(len(index) for index in memory.index) == batch * (length - MIN_CONTEXT)
    # the dictionary of every context took about 3 KB per token; the index, 8 bytes and a figure's entry
    assert peak / (batch * length) < 400
