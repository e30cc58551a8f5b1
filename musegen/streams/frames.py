"""Streaming piano-roll training data: one compact store of frames, small window indices, tf.data.

Piano-roll pieces can be long (the JSB family reaches 4,300 frames a piece and 245,000 training
frames), and the in-memory path of the token representations (every window as float32 x and y
arrays, padded to the window, every transposed copy of every piece stored) then takes tens of GB.
Here instead:

- :class:`FrameStore`: all pieces' frames in ONE contiguous (N, 88) uint8 array, plus each
  piece's offset and length: one byte per key, each piece once;
- :class:`WindowIndex`: windows as (piece, start, length, skip) small int arrays. Training
  windows (:func:`training_windows`) are those of :func:`musegen.streams.windows.window_starts`
  over a piece's ``T - 1`` targets (frame t + 1 predicted from frames <= t), so every target is in
  at least one window, exactly the windows of :func:`~musegen.streams.windows.sequence_windows`.
  Scoring windows (:func:`scoring_windows`) score every target exactly once, each with at least
  ``context`` frames of left context (see :func:`musegen.streams.windows.scoring_windows`);
- transposition on the fly: an epoch enumerates every (window, shift) pair for the shifts
  ``lo..hi`` of ``DataConfig.transpose`` (the same number of examples as stored copies gave),
  shuffled every epoch with the training seed; the shift is applied example by example inside
  the tf.data ``map`` (along the keys, keys pushed off the keyboard dropped, exactly like
  :func:`musegen.representations.pianoroll.transpose_frames`). Every shift is kept, even one
  that leaves a window silent (stored copies never dropped a piano roll either: a shifted
  piano roll keeps its frames, only its keys move);
- the pipeline gathers each example's frames from the store inside ``map`` (uint8, its width
  the real length rounded up to 16), batches by length (a batch is as wide as its longest window
  rounded up to 16; its exact cardinality, :func:`musegen.streams.windows.bucket_batch_count`, is
  asserted, so Keras knows the epoch's length),
  casts to float32 per batch and prefetches. Memory is the store plus a few batches, whatever
  the pieces' length;
- the NADE head (``ModelConfig.head == "nade"``) reads the concatenation ``[x_t | x_{t+1}]``
  (B, T, 176) as its input: ``x`` becomes ``concat([x, y], -1)``, ``y`` and ``w`` unchanged;
- :func:`estimate_memory` and :func:`check_memory`: a clear error before training when the
  store and one batch's activations would not fit in the available memory (MemAvailable), so
  that a run fails with a message instead of being killed.

Validation uses scoring windows: pieces of at most the scoring window are scored whole (as
before); longer ones are cut with left context (:func:`scoring_plan`). That is exact for a
WaveNet whose receptive field is at most the context, and a Transformer whose stacked attention
reaches no further (``layers x (span - 1) + 1`` frames); an LSTM sees at most the training
window (and at least half of it) of a long piece, not the whole piece.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from musegen.config import ModelConfig, RunConfig
from musegen.errors import TrainingError
from musegen.notes import PIANO_KEYS as N_KEYS
from musegen.streams.training_data import TrainingData
from musegen.streams.windows import BUCKET_STEP, bucket_batch_count, bucket_boundaries, window_starts
from musegen.streams.windows import scoring_windows as _scoring_windows

VAL_BATCH_VALUES = 2**20  # frames x keys per validation batch: one batch where it fits
GB = 1024**3
MEMINFO = Path("/proc/meminfo")
CGROUP = Path("/sys/fs/cgroup")  # cgroup v2: memory.max and memory.current of this container

__all__ = [
    "VAL_BATCH_VALUES",
    "FrameStore",
    "MemoryEstimate",
    "WindowIndex",
    "available_memory",
    "batch_widths",
    "check_memory",
    "estimate_memory",
    "example_fn",
    "frame_training_data",
    "model_context",
    "scoring_plan",
    "scoring_windows",
    "shifts_of",
    "train_dataset",
    "training_windows",
    "val_dataset",
]


# --------------------------------------------------------------------------- the store and the windows


@dataclass(frozen=True)
class FrameStore:
    """Every piece's frames in one contiguous (N, 88) uint8 array: piece i is ``flat[offsets[i]:][:lengths[i]]``."""

    flat: np.ndarray  # (N, keys) uint8, C order: every frame of every piece
    offsets: np.ndarray  # (P,) int64: each piece's first row
    lengths: np.ndarray  # (P,) int64: each piece's frames

    @classmethod
    def from_pieces(cls, pieces: Sequence[np.ndarray], keys: int = N_KEYS) -> FrameStore:
        """The store of ``pieces`` ((T, keys) frames of 0 and 1, any integer dtype), copied once as uint8."""
        lengths = np.array([len(p) for p in pieces], np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64) if len(pieces) else lengths.copy()
        frames = np.empty((int(lengths.sum()), keys), np.uint8)
        for piece, offset, length in zip(pieces, offsets.tolist(), lengths.tolist(), strict=True):
            if length:
                frames[offset : offset + length] = np.asarray(piece).reshape(length, keys)
        return cls(frames, offsets, lengths)

    def __len__(self) -> int:
        return len(self.lengths)

    def piece(self, i: int) -> np.ndarray:
        """Piece ``i``'s frames (a view)."""
        return self.flat[self.offsets[i] : self.offsets[i] + self.lengths[i]]

    @property
    def nbytes(self) -> int:
        return int(self.flat.nbytes + self.offsets.nbytes + self.lengths.nbytes)


@dataclass(frozen=True)
class WindowIndex:
    """Windows over a store: window j reads frames ``start .. start + length - 1`` of piece ``piece``
    and predicts the next frame of each; its first ``skip`` targets have weight 0 (context only)."""

    piece: np.ndarray  # (W,) int32
    start: np.ndarray  # (W,) int32: the first input frame, within the piece
    length: np.ndarray  # (W,) int32: targets (inputs) in the window, 1 .. window
    skip: np.ndarray  # (W,) int32: leading targets not scored

    @classmethod
    def from_rows(cls, rows: Sequence[tuple[int, int, int, int]]) -> WindowIndex:
        arr = np.asarray(rows, np.int32).reshape(-1, 4)
        return cls(*(np.ascontiguousarray(arr[:, i]) for i in range(4)))

    def __len__(self) -> int:
        return len(self.piece)

    def rows(self, store: FrameStore) -> np.ndarray:
        """(W,) int64: the store row of each window's first input frame."""
        return store.offsets[self.piece] + self.start.astype(np.int64)

    @property
    def nbytes(self) -> int:
        return int(self.piece.nbytes * 4)


def training_windows(store: FrameStore, window: int, stride: int) -> WindowIndex:
    """The training windows of every piece: ``window_starts`` over its ``T - 1`` targets (every target is in
    at least one window; the last window is aligned to the piece's end); a piece of one frame has none."""
    rows = []
    for p, frames in enumerate(store.lengths.tolist()):
        n = frames - 1
        if n > 0:
            rows.extend((p, s, min(window, n - s), 0) for s in window_starts(n, window, stride))
    return WindowIndex.from_rows(rows)


def scoring_windows(store: FrameStore, window: int, context: int) -> WindowIndex:
    """Windows that score every target of every piece exactly once, with at least ``context`` frames of
    left context (a piece of at most ``window`` targets is one window, scored whole; see
    :func:`musegen.streams.windows.scoring_windows`)."""
    rows = []
    for p, frames in enumerate(store.lengths.tolist()):
        rows.extend((p, *w) for w in _scoring_windows(frames - 1, window, context))
    return WindowIndex.from_rows(rows)


def shifts_of(transpose: tuple[int, int]) -> list[int]:
    """The shifts of an epoch: every semitone ``lo..hi`` (0 included: the pieces as they are)."""
    lo, hi = transpose
    return list(range(int(lo), int(hi) + 1))


# --------------------------------------------------------------------------- context of a model


def model_context(model: ModelConfig, window: int) -> int | None:
    """Frames a model reads to predict one frame (its receptive field), or None when unbounded (an LSTM's state).

    WaveNet: ``ModelConfig.receptive_field``. Transformer: each layer attends to its last ``span``
    positions (``attention_span``, else the training ``window``), so a stack of L layers reaches
    ``L x (span - 1) + 1`` frames back.
    """
    if model.arch == "wavenet":
        return model.receptive_field()
    if model.arch == "transformer":
        span = model.attention_span or window
        return model.transformer_layers * (span - 1) + 1
    return None


def scoring_plan(model: ModelConfig, window: int) -> tuple[int, int]:
    """(scoring window, context) of held-out frames for a model trained on ``window``-frame windows.

    A model of bounded context C (WaveNet, Transformer) is scored in windows of ``window + C``
    frames whose first C targets are context only (except in a piece's first window): every
    target then sees its whole receptive field, and the scores equal those of whole pieces. An
    LSTM (unbounded) is scored in windows of ``window`` frames with ``window // 2`` of context:
    it sees at most the training window of a long piece (and at least half of it).
    """
    context = model_context(model, window)
    if context is None:
        return window, window // 2
    return window + context, context


# --------------------------------------------------------------------------- tf.data


def example_fn(store: FrameStore, index: WindowIndex, shifts: Sequence[int], window: int, step: int = BUCKET_STEP):
    """The tf.data ``map`` function of example ``i`` -> (x, y, w): window ``i // len(shifts)`` moved by
    ``shifts[i % len(shifts)]`` semitones, x and y uint8 (width, keys), w float32 (width,), where width is
    the window's length rounded up to ``step`` (at most ``window``); w is 1 on scored targets only."""
    import tensorflow as tf

    keys = store.flat.shape[1]
    frames = tf.constant(store.flat)  # the one copy TensorFlow holds; every example slices it
    first = tf.constant(index.rows(store), tf.int64)
    length = tf.constant(index.length.astype(np.int64))
    skip = tf.constant(index.skip.astype(np.int64))
    moves = tf.constant(np.asarray(list(shifts), np.int64))
    n_shifts = len(shifts)
    margin = max([abs(int(s)) for s in shifts] + [0])

    def example(i):
        j, shift = i // n_shifts, moves[i % n_shifts]
        a, n, k = first[j], length[j], skip[j]
        width = tf.minimum(tf.constant(window, tf.int64), (n + step - 1) // step * step)
        rows = frames[a : a + n + 1]  # the inputs and, one later, the targets
        if margin:  # key k of the moved frames is key k - shift of the original; keys off the keyboard go
            rows = tf.pad(rows, [[0, 0], [margin, margin]])[:, margin - shift : margin - shift + keys]
        x = tf.ensure_shape(tf.pad(rows[:-1], [[0, width - n], [0, 0]]), [None, keys])
        y = tf.ensure_shape(tf.pad(rows[1:], [[0, width - n], [0, 0]]), [None, keys])
        pos = tf.range(width)
        return x, y, tf.cast((pos >= k) & (pos < n), tf.float32)

    return example


def batch_widths(lengths: np.ndarray, window: int, step: int = BUCKET_STEP) -> np.ndarray:
    """The width of each example (a window's real length rounded up to ``step``, at most ``window``): what
    :func:`example_fn` pads to and what the length buckets group by."""
    return np.minimum(window, -(-np.asarray(lengths, np.int64) // step) * step)


def _to_float(nade: bool):
    import tensorflow as tf

    def cast(x, y, w):
        x, y = tf.cast(x, tf.float32), tf.cast(y, tf.float32)
        return (tf.concat([x, y], -1) if nade else x), y, w

    return cast


def train_dataset(
    store: FrameStore,
    index: WindowIndex,
    shifts: Sequence[int],
    window: int,
    batch: int,
    seed: int,
    *,
    nade: bool = False,
    step: int = BUCKET_STEP,
) -> tuple[Any, int]:
    """The training batches: every (window, shift) pair once per epoch, shuffled every epoch with ``seed``,
    bucketed by length and cut to the longest (rounded up to ``step``), float32. Returns the dataset
    and its batches per epoch (asserted as its cardinality)."""
    import tensorflow as tf

    n = len(index) * len(shifts)
    n_batches = bucket_batch_count(batch_widths(index.length, window, step), window, batch, step, repeats=len(shifts))
    boundaries = bucket_boundaries(window, step)
    data = (
        tf.data.Dataset.range(n)
        .shuffle(n, seed=seed, reshuffle_each_iteration=True)
        .map(example_fn(store, index, shifts, window, step), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        .bucket_by_sequence_length(
            lambda x, y, w: tf.shape(x)[0],  # the width: in the same bucket as the real length
            bucket_boundaries=boundaries,
            bucket_batch_sizes=[batch] * (len(boundaries) + 1),
        )
        .map(_to_float(nade))
        .apply(tf.data.experimental.assert_cardinality(n_batches))
    )
    return data.prefetch(2), n_batches


def val_dataset(
    store: FrameStore, index: WindowIndex, window: int, batch: int, *, nade: bool = False, step: int = BUCKET_STEP
) -> Any:
    """The scoring windows ``index`` in order, ``batch`` per batch padded to the longest, float32."""
    import tensorflow as tf

    data = (
        tf.data.Dataset.range(len(index))
        .map(example_fn(store, index, [0], window, step), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        .padded_batch(batch)
        .map(_to_float(nade))
    )
    return data.prefetch(2)


def val_batch_size(n_windows: int, window: int, keys: int = N_KEYS) -> int:
    """Windows per validation batch: one batch where it fits, so val_loss is exactly the mean frame NLL
    (Keras averages batch losses by batch size, not by real frames)."""
    return min(n_windows, max(1, VAL_BATCH_VALUES // (window * keys)))


# --------------------------------------------------------------------------- memory


@dataclass(frozen=True)
class MemoryEstimate:
    """Roughly what a training run adds to the process, in bytes."""

    store: int  # the frames (train and validation), in numpy and in TensorFlow
    batch: int  # one training batch: inputs, activations kept for the gradient, and their gradients
    val_batch: int  # one validation batch (no gradient)
    batch_size: int
    window: int

    @property
    def total(self) -> int:
        return self.store + max(self.batch, self.val_batch)


def _floats_per_frame(model: ModelConfig, window: int, in_width: int) -> int:
    """Activations one frame of a batch keeps in the forward pass (a rough count of float32 values)."""
    io = in_width + 4 * N_KEYS + 2 * model.embed_dim  # inputs, targets, logits and loss, the adapter
    if model.arch == "wavenet":
        layers = model.stacks * model.dilation_cycle
        return io + layers * (6 * model.channels + model.skip_channels) + 2 * model.skip_channels
    if model.arch == "transformer":
        keys_seen = min(window, 2 * (model.attention_span or window))  # per query: all, or two blocks of the span
        per_layer = (10 + 2 * model.ff_mult) * model.d_model + 2 * model.heads * keys_seen  # scores and weights
        return io + model.transformer_layers * per_layer
    return io + model.layers * 8 * model.units  # LSTM: four gates, the cell, the output, per step


def estimate_memory(
    train: FrameStore,
    val: FrameStore | None,
    config: RunConfig,
    batch: int,
    *,
    val_batch: int = 0,
    val_window: int = 0,
    nade: bool = False,
) -> MemoryEstimate:
    """What training ``config.model`` on these stores takes, roughly: the stores twice (numpy and TensorFlow),
    and one batch of ``batch`` windows of ``config.data.window`` frames: 4 bytes a value, the forward
    activations kept for the gradient and their gradients (x2), with the prefetched inputs; or one
    validation batch of ``val_batch`` windows of ``val_window`` frames, when that is more."""
    window = config.data.window
    in_width = 2 * N_KEYS if nade else N_KEYS
    per_frame = _floats_per_frame(config.model, window, in_width)
    stores = train.nbytes + (val.nbytes if val is not None else 0)
    batch_bytes = 4 * batch * window * (2 * per_frame + 3 * (in_width + N_KEYS))
    val_bytes = 4 * val_batch * (val_window or window) * per_frame
    return MemoryEstimate(2 * stores, batch_bytes, val_bytes, batch, window)


def available_memory(meminfo: Path = MEMINFO, cgroup: Path = CGROUP) -> int | None:
    """Bytes this process may still use: MemAvailable of /proc/meminfo, or less where a cgroup v2
    limit (a container's memory cap: ``memory.max`` minus ``memory.current``) allows less; None where
    neither can be read (not Linux)."""
    figures = []
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                figures.append(int(line.split()[1]) * 1024)
                break
    except (OSError, ValueError, IndexError):
        pass
    try:
        limit = (cgroup / "memory.max").read_text().strip()
        if limit != "max":
            figures.append(max(int(limit) - int((cgroup / "memory.current").read_text().strip()), 0))
    except (OSError, ValueError):
        pass  # no cgroup v2 memory controller here: the machine's figure stands
    return min(figures) if figures else None


def check_memory(estimate: MemoryEstimate, available: int | None = None) -> None:
    """TrainingError when ``estimate`` exceeds ``available`` bytes (MemAvailable when None; no check without it)."""
    available = available_memory() if available is None else available
    if available is None or estimate.total <= available:
        return
    raise TrainingError(
        f"this training would need about {estimate.total / GB:,.1f} GB of memory ({estimate.store / GB:,.2f} GB "
        f"for the frames, {max(estimate.batch, estimate.val_batch) / GB:,.1f} GB for one batch of "
        f"{estimate.batch_size} windows of {estimate.window:,} frames) but only {available / GB:,.1f} GB are "
        "available: lower the batch size or the window, or choose a smaller model, or free memory."
    )


# --------------------------------------------------------------------------- the whole of it


def frame_training_data(
    train_seqs: Sequence[np.ndarray],
    val_seqs: Sequence[np.ndarray],
    config: RunConfig,
    global_batch: int,
    seed: int,
    *,
    nade: bool = False,
    available: int | None = None,
) -> TrainingData:
    """The piano-roll pipelines of a run (see the module doc): training windows of ``config.data.window``
    frames every ``config.data.stride``, each in every key of ``config.data.transpose``, and the
    validation pieces in scoring windows (:func:`scoring_plan`). ``available`` (bytes) replaces
    MemAvailable in the memory check; TrainingError when it would not fit."""
    window, stride = config.data.window, config.data.stride
    train = FrameStore.from_pieces(train_seqs)
    index = training_windows(train, window, stride)
    shifts = shifts_of(config.data.transpose)
    samples = len(index) * len(shifts)
    if samples == 0:
        return TrainingData(None, None, 0, 0)
    batch = min(int(global_batch), samples)
    val = FrameStore.from_pieces(val_seqs) if len(val_seqs) else None
    val_window, context = scoring_plan(config.model, window)
    val_index = scoring_windows(val, val_window, context) if val is not None else None
    val_batch = 0
    if val_index is not None and len(val_index):  # batches are as wide as their longest window: size them by it
        widest = int(batch_widths(val_index.length, val_window).max())
        val_batch = val_batch_size(len(val_index), widest)
    check_memory(
        estimate_memory(train, val, config, batch, val_batch=val_batch, val_window=val_window, nade=nade), available
    )
    train_ds, n_batches = train_dataset(train, index, shifts, window, batch, seed, nade=nade)
    val_ds = val_dataset(val, val_index, val_window, val_batch, nade=nade) if val_batch else None
    return TrainingData(train_ds, val_ds, samples, batch, n_batches)
