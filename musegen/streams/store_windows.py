"""Training windows read straight from a memory-mapped token store, through ``tf.data``.

The windows are those of :func:`musegen.streams.windows.sequence_windows` (the same starts, the
same padding: :func:`window_table` is its vectorised index), kept as two compact arrays, where each
window starts in the flat token array and how many targets it has (12 bytes a window; the tokens stay
on disk). Every epoch shuffles that index, never the data; each batch is gathered from the memmap in
one vectorised read (:meth:`WindowReader.batch`), in a ``tf.data`` map over batches of window numbers
with prefetch, so training never loads the corpus.

Fill-in-the-middle: with ``fim_rate`` > 0 each window of a batch becomes, with that probability, the
representation's SPM example of the same tokens (as :func:`musegen.streams.fim.fim_windows` does in
memory), drawn anew every epoch from a generator seeded with (seed, epoch, batch): the same seed gives
the same batches, and the model sees other cuts of a window each epoch rather than one fixed draw.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from musegen.streams.fim import SplitFn, psm
from musegen.vocabulary import BOS_ID, PAD_ID


def window_table(offsets: np.ndarray, pieces: np.ndarray, window: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """(starts, counts) of the windows of ``pieces``: int64 positions in the flat tokens where a window's
    inputs begin, and int32 numbers of real targets. The windows and order of ``sequence_windows``."""
    pieces = np.asarray(pieces, np.int64)
    base = offsets[pieces]
    n = offsets[pieces + 1] - base - 1  # inputs (= targets) per piece
    base, n = base[n > 0], n[n > 0]
    k = np.maximum(n - window, 0) // stride + 1
    extra = (k - 1) * stride + window < n  # one more window aligned to the end, so no target is lost
    total = k + extra
    owner = np.repeat(np.arange(len(n)), total)
    pos = np.arange(int(total.sum())) - np.repeat(np.cumsum(total) - total, total)
    local = np.where(pos == k[owner], n[owner] - window, pos * stride)
    counts = np.minimum(window, n[owner] - local).astype(np.int32)
    return base[owner] + local, counts


@dataclass
class Fim:
    """What a fill-in-the-middle draw needs: the share of windows, the representation's cut, its sentinels."""

    rate: float
    split: SplitFn
    sentinels: tuple[int, int, int, int]


class WindowReader:
    """Batches of (x, y, w) from windows of a flat token array (a memmap)."""

    def __init__(self, tokens: np.ndarray, starts: np.ndarray, counts: np.ndarray, window: int, fim: Fim | None = None):
        self.tokens, self.starts, self.counts, self.window, self.fim = tokens, starts, counts, window, fim
        self._cols = np.arange(window, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.starts)

    def batch(self, rows: np.ndarray, seed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The windows ``rows``: x, y int32 (B, window) padded with ``<pad>``; w float32, 1 on real targets."""
        starts, counts = self.starts[rows], self.counts[rows]
        idx = starts[:, None] + self._cols
        real = self._cols < counts[:, None]
        top = len(self.tokens) - 1
        x = np.where(real, self.tokens[np.minimum(idx, top)], PAD_ID).astype(np.int32)
        y = np.where(real, self.tokens[np.minimum(idx + 1, top)], PAD_ID).astype(np.int32)
        if self.fim is not None and self.fim.rate > 0:
            self._fim(x, y, starts, counts, np.random.default_rng(seed))
        return x, y, (y != PAD_ID).astype(np.float32)

    def _fim(self, x: np.ndarray, y: np.ndarray, starts: np.ndarray, counts: np.ndarray, rng: Any) -> None:
        """Rewrite a share of the batch's rows as SPM examples, in place."""
        for i in np.flatnonzero(rng.random(len(starts)) < self.fim.rate):
            chunk = np.asarray(self.tokens[starts[i] : starts[i] + counts[i] + 1], dtype=np.int32)
            head = chunk[:1] if chunk[0] == BOS_ID else chunk[:0]
            parts = self.fim.split(chunk[len(head) :], rng)
            if parts is None:
                continue
            row = np.full(self.window + 1, PAD_ID, np.int32)
            ids = psm(*parts, self.fim.sentinels, self.window + 1, head=head)
            row[: len(ids)] = ids
            x[i], y[i] = row[:-1], row[1:]


def store_dataset(reader: WindowReader, batch: int, seed: int, *, shuffle: bool) -> tuple[Any, int]:
    """A ``tf.data.Dataset`` of (x, y, w) batches of ``reader``'s windows and its batches per epoch.

    Window numbers are shuffled every epoch (with ``shuffle``; the epoch's order drawn from ``seed`` and
    the epoch), batched, and gathered by a parallel map; the last batch of an epoch may be partial.
    """
    import tensorflow as tf

    n, window = len(reader), reader.window
    n_batches = math.ceil(n / batch)
    epochs = [0]

    def numbers() -> Any:
        epoch = epochs[0]
        epochs[0] += 1
        order = np.random.default_rng([seed, epoch]).permutation(n) if shuffle else np.arange(n)
        for b in range(n_batches):
            yield order[b * batch : (b + 1) * batch], np.asarray([seed, epoch, b], np.int64)

    def gather(rows: Any, key: Any) -> Any:
        return reader.batch(rows, key)

    spec = (tf.TensorSpec((None,), tf.int64), tf.TensorSpec((3,), tf.int64))
    ds = tf.data.Dataset.from_generator(numbers, output_signature=spec)
    ds = ds.map(_numpy_map(gather, window), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    ds = ds.apply(tf.data.experimental.assert_cardinality(n_batches))
    return ds.prefetch(tf.data.AUTOTUNE), n_batches


def _numpy_map(fn: Callable[..., Any], window: int) -> Callable[..., Any]:
    import tensorflow as tf

    def mapped(rows: Any, key: Any) -> Any:
        x, y, w = tf.numpy_function(fn, [rows, key], [tf.int32, tf.int32, tf.float32], stateful=False)
        x.set_shape((None, window))
        y.set_shape((None, window))
        w.set_shape((None, window))
        return x, y, w

    return mapped
