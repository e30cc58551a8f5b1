"""Piano-roll frames: true polyphony as multi-hot rows over the 88 piano keys.

A piece becomes a (T, 88) uint8 matrix on a time grid of ``steps_per_beat`` frames per
quarter note (1 for the JSB Chorales benchmark, ``DataConfig.steps_per_beat`` for MIDI data):
``frames[t, k] == 1`` when MIDI pitch ``21 + k`` sounds during frame t. Onsets and offsets
are rounded to the grid as the timed tokens do (a note lasts at least one frame); pitches
outside the piano (below 21, above 108) are left out.

Models read the frames through a Dense adapter and predict frame t + 1 from frames 0..t with
one independent sigmoid per key (see :func:`musegen.models.build_frame_model`); the first
frame of a piece is context only, never a target. Generation draws every key from its own
Bernoulli distribution. ``frames -> Piece`` merges consecutive held frames of a key into one
note, so two repeated notes of a pitch played legato read back as one long note (the
piano roll's known ambiguity).

For the app's statistics and run folders the representation also has a "tokenizer" (one
token per frame, e.g. ``Frame_48.55.64.72`` or ``Frame_rest``) and a fixed vocabulary of the
88 keys, so that ``make_tokenizer`` and ``vocab.json`` work as for the token representations.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from musegen.config import DataConfig, SamplingConfig
from musegen.dataset import TokenDataset
from musegen.errors import ConfigError, DatasetError, TrainingError
from musegen.notes import END, PITCH, START, Piece, make_notes
from musegen.tokens import DEFAULT_VELOCITY, SPECIALS, Vocabulary

if TYPE_CHECKING:
    import keras

LOWEST_PITCH = 21  # A0, key 0
N_KEYS = 88  # A0..C8 (MIDI 21-108)
REPRESENTATION = "pianoroll"
REST = "Frame_rest"
BUCKET_STEP = 16  # frames: training batches are cut to a multiple of this

__all__ = [
    "LOWEST_PITCH",
    "N_KEYS",
    "FrameDataset",
    "PianoRollTokenizer",
    "bucket_by_length",
    "build_frame_dataset",
    "check_frames",
    "frame_windows",
    "frames_to_piece",
    "generate_frames",
    "pianoroll_vocab",
    "piece_to_frames",
    "sample_frames",
    "transpose_frames",
]


# --------------------------------------------------------------------------- pieces <-> frames


def piece_to_frames(piece: Piece, steps_per_beat: int) -> np.ndarray:
    """(T, 88) uint8 multi-hot frames of ``piece``; T covers its last note-off (0 frames if empty)."""
    if steps_per_beat < 1:
        raise ConfigError(f"steps_per_beat must be at least 1, got {steps_per_beat}.")
    notes = piece.notes
    keys = notes[:, PITCH].astype(np.int64) - LOWEST_PITCH
    on_piano = (keys >= 0) & (keys < N_KEYS)
    onset = np.round(notes[:, START] * steps_per_beat).astype(np.int64)
    offset = np.maximum(onset + 1, np.round(notes[:, END] * steps_per_beat).astype(np.int64))
    onset, offset, keys = onset[on_piano], offset[on_piano], keys[on_piano]
    n_frames = int(offset.max()) if len(offset) else 0
    frames = np.zeros((n_frames, N_KEYS), dtype=np.uint8)
    for a, b, k in zip(onset.tolist(), offset.tolist(), keys.tolist(), strict=True):
        frames[max(a, 0) : b, k] = 1
    return frames


def frames_to_piece(frames: np.ndarray, steps_per_beat: int, name: str = "generated", tempo: float = 120.0) -> Piece:
    """Notes from frames: each run of consecutive 1s of a key is one note (velocity 80)."""
    frames = check_frames(frames)
    padded = np.zeros((len(frames) + 2, N_KEYS), dtype=np.int8)
    padded[1:-1] = frames
    edges = np.diff(padded, axis=0)  # +1 where a key goes down, -1 where it comes up
    start_t, start_k = np.nonzero(edges == 1)
    end_t, end_k = np.nonzero(edges == -1)
    # runs of one key start and end in time order, so sorting by (key, time) pairs them up
    starts = start_t[np.lexsort((start_t, start_k))]
    ends = end_t[np.lexsort((end_t, end_k))]
    keys = np.sort(start_k)
    spb = float(steps_per_beat)
    rows = np.stack(
        [starts / spb, ends / spb, (keys + LOWEST_PITCH).astype(np.float64), np.full(len(keys), DEFAULT_VELOCITY)],
        axis=1,
    )
    return Piece(name, make_notes(rows), tempo)


def transpose_frames(frames: np.ndarray, semitones: int) -> np.ndarray:
    """``frames`` shifted by ``semitones`` along the keys; keys pushed off the keyboard are dropped."""
    out = np.zeros_like(frames)
    if semitones >= 0:
        out[:, semitones:] = frames[:, : N_KEYS - semitones]
    else:
        out[:, :semitones] = frames[:, -semitones:]
    return out


def check_frames(frames: Any) -> np.ndarray:
    """``frames`` as a (T, 88) uint8 array of 0/1, or a ConfigError that says what is wrong."""
    arr = np.asarray(frames)
    if arr.ndim != 2 or arr.shape[1] != N_KEYS:
        raise ConfigError(f"piano-roll frames must have shape (T, {N_KEYS}); got {arr.shape}.")
    if arr.size and not np.isin(arr, (0, 1)).all():
        raise ConfigError("piano-roll frames must hold only 0 and 1 (key up / key down).")
    return arr.astype(np.uint8)


# --------------------------------------------------------------------------- tokens and vocabulary


def pianoroll_vocab(steps_per_beat: int) -> Vocabulary:
    """The fixed vocabulary of a piano-roll run: the specials, then one entry per key (``Key_21``..``Key_108``)."""
    keys = [f"Key_{LOWEST_PITCH + k}" for k in range(N_KEYS)]
    meta = {"steps_per_beat": int(steps_per_beat), "lowest_pitch": LOWEST_PITCH, "keys": N_KEYS}
    return Vocabulary([*SPECIALS, *keys], REPRESENTATION, meta)


@dataclass
class PianoRollTokenizer:
    """One token per frame (for statistics and seeds): ``Frame_<pitches joined by '.'>`` or ``Frame_rest``."""

    steps_per_beat: int = 4
    representation: str = REPRESENTATION

    def tokenize(self, piece: Piece) -> list[str]:
        return [frame_token(f) for f in piece_to_frames(piece, self.steps_per_beat)]

    def detokenize(self, tokens: Sequence[str], name: str = "generated") -> Piece:
        """Frames from frame tokens (unknown tokens read as rests), then notes."""
        frames = np.zeros((len(tokens), N_KEYS), dtype=np.uint8)
        for t, token in enumerate(tokens):
            kind, _, value = token.partition("_")
            if kind != "Frame" or value == "rest":
                continue
            for part in value.split("."):
                if part.isdigit() and 0 <= int(part) - LOWEST_PITCH < N_KEYS:
                    frames[t, int(part) - LOWEST_PITCH] = 1
        return frames_to_piece(frames, self.steps_per_beat, name)

    def build_vocab(self, token_lists: Any = ()) -> Vocabulary:
        return pianoroll_vocab(self.steps_per_beat)


def frame_token(frame: np.ndarray) -> str:
    keys = np.flatnonzero(frame)
    return "Frame_" + ".".join(str(int(k) + LOWEST_PITCH) for k in keys) if len(keys) else REST


# --------------------------------------------------------------------------- datasets and windows


class FrameDataset(TokenDataset):
    """Frames per piece, split by piece: ``train`` and ``val`` hold (T, 88) uint8 arrays, and the
    token counts count predicted frames (every frame after the first). The same fields as a
    :class:`~musegen.dataset.TokenDataset`, which is what :func:`musegen.training.train` reads."""


def build_frame_dataset(pieces: list[Piece], cfg: DataConfig) -> FrameDataset:
    """Frames of ``pieces`` on the grid of ``cfg``: exact duplicates dropped, split by piece, train split transposed.

    Pieces with fewer than two frames (nothing to predict) are left out.
    """
    from musegen.dataset import split_by_piece

    cfg.validate()
    if not pieces:
        raise DatasetError("The dataset has no pieces. Upload MIDI files or pick the built-in corpus.")
    spb = cfg.steps_per_beat
    frames = [piece_to_frames(p, spb) for p in pieces]
    keep, duplicates, seen = [], [], set()
    for i, f in enumerate(frames):
        key = (f.shape, f.tobytes())
        if key in seen:
            duplicates.append(pieces[i].name)
        elif len(f) >= 2:
            seen.add(key)
            keep.append(i)
    if not keep:
        raise DatasetError("No piece has two frames or more on the piano's keys. Check the files and the filter.")
    train_idx, val_idx = split_by_piece(len(keep), cfg.val_fraction, cfg.split_seed)
    train_idx, val_idx = [keep[i] for i in train_idx], [keep[i] for i in val_idx]
    train = [frames[i] for i in train_idx]
    names = [pieces[i].name for i in train_idx]
    lo, hi = cfg.transpose
    for shift in (s for s in range(lo, hi + 1) if s):
        for i in train_idx:
            train.append(transpose_frames(frames[i], shift))
            names.append(f"{pieces[i].name} ({shift:+d})")
    return FrameDataset(
        vocab=pianoroll_vocab(spb),
        config=cfg,
        train=train,
        val=[frames[i] for i in val_idx],
        train_names=names,
        val_names=[pieces[i].name for i in val_idx],
        duplicates=duplicates,
    )


def frame_windows(seqs: Sequence[np.ndarray], window: int, stride: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Many-to-many training windows: ``x[i, t]`` (frames) predicts ``y[i, t]`` (the next frame).

    Returns float32 ``x`` and ``y`` (N, window, 88) and the padding mask ``w`` (N, window): 1 on
    real targets, 0 on padding. Every target appears in at least one window; a piece shorter
    than the window is one zero-padded window (padding at the end keeps causal models exact).
    """
    from musegen.dataset import window_starts  # dataset imports this module for its frame path

    xs, ys, ws = [], [], []
    for seq in seqs:
        seq = np.asarray(seq)
        inputs, targets = seq[:-1], seq[1:]
        n = len(inputs)
        if n == 0:
            continue
        for s in window_starts(n, window, stride):
            x = np.zeros((window, N_KEYS), np.float32)
            y = np.zeros((window, N_KEYS), np.float32)
            w = np.zeros(window, np.float32)
            chunk = inputs[s : s + window]
            x[: len(chunk)], y[: len(chunk)], w[: len(chunk)] = chunk, targets[s : s + window], 1.0
            xs.append(x)
            ys.append(y)
            ws.append(w)
    if not xs:
        empty = np.zeros((0, window, N_KEYS), np.float32)
        return empty, empty.copy(), np.zeros((0, window), np.float32)
    return np.stack(xs), np.stack(ys), np.stack(ws)


def bucket_by_length(dataset: Any, mask: np.ndarray, batch: int, step: int = BUCKET_STEP) -> tuple[Any, int]:
    """Batch a ``tf.data`` dataset of (x, y, w) windows by real length, each batch cut to its longest.

    ``mask`` is the (N, window) padding mask of the windows (``w``). Windows of pieces shorter
    than the window are mostly padding; grouping them by length (buckets ``step`` frames wide)
    and cutting each batch to its longest real window (rounded up to ``step``, which bounds the
    number of distinct shapes the compiled training step sees) skips that padding: about twice
    as fast on the JSB Chorales. Padding is at the end, so causal models give the same results.
    Returns the batched dataset and its number of batches per epoch.
    """
    import tensorflow as tf

    window = mask.shape[1]
    lengths = mask.sum(1).astype(np.int64)
    boundaries = list(range(step + 1, window + 1, step))  # bucket i holds lengths in [b[i-1], b[i])
    counts = np.bincount(np.searchsorted(boundaries, lengths, side="right"), minlength=len(boundaries) + 1)
    n_batches = int(sum(math.ceil(c / batch) for c in counts))

    def cut(x, y, w):
        longest = tf.cast(tf.reduce_max(tf.reduce_sum(w, axis=1)), tf.int32)
        width = tf.minimum(window, (longest + step - 1) // step * step)
        return x[:, :width], y[:, :width], w[:, :width]

    batched = dataset.bucket_by_sequence_length(
        lambda x, y, w: tf.cast(tf.reduce_sum(w), tf.int32),
        bucket_boundaries=boundaries,
        bucket_batch_sizes=[batch] * (len(boundaries) + 1),
    )
    # the exact count lets Keras know the epoch's length (no "ran out of data" on the first epoch)
    return batched.map(cut).apply(tf.data.experimental.assert_cardinality(n_batches)), n_batches


# --------------------------------------------------------------------------- sampling and generation


def sample_frames(logits: np.ndarray, cfg: SamplingConfig, rng: np.random.Generator) -> np.ndarray:
    """One frame per row of ``logits`` (B, 88): every key an independent Bernoulli draw.

    ``temperature`` divides the logits (below 1: only the likeliest keys sound); greedy or
    temperature 0 sounds every key with probability above one half. ``top_k`` > 0 lets at most
    the k likeliest keys sound; ``top_p`` does not apply to independent keys and is ignored.
    """
    z = np.array(logits, dtype=np.float64, ndmin=2)
    if np.isnan(z).any():
        raise TrainingError("the model produced NaN scores; it has diverged. Retrain with a lower learning rate.")
    if 0 < cfg.top_k < z.shape[1]:  # exactly k candidates per frame, ties broken by position
        best = np.argpartition(-z, cfg.top_k - 1, axis=1)[:, : cfg.top_k]
        keep = np.zeros(z.shape, dtype=bool)
        np.put_along_axis(keep, best, True, axis=1)
        z = np.where(keep, z, -np.inf)
    if cfg.greedy or cfg.temperature == 0:
        return (z > 0).astype(np.uint8)
    p = 1.0 / (1.0 + np.exp(-z / cfg.temperature))
    return (rng.random(p.shape) < p).astype(np.uint8)


def generate_frames(
    model: keras.Model,
    seed_frames: np.ndarray,
    cfg: SamplingConfig,
    *,
    on_progress: Callable[[int, int], None] | None = None,
    rng: np.random.Generator | None = None,
) -> list[np.ndarray]:
    """Continue ``seed_frames`` (T, 88) by ``cfg.length`` frames, ``cfg.variations`` pieces in one batch.

    Uses the compiled incremental decoder (cached convolution inputs / LSTM state). An empty
    seed starts from one silent frame. Returns one (length, 88) uint8 array per variation.
    """
    from musegen.models.incremental import make_stepper

    cfg.validate(max_length=max(cfg.length, 1))
    seed = check_frames(seed_frames) if len(np.asarray(seed_frames)) else np.zeros((1, N_KEYS), np.uint8)
    if int(model.outputs[0].shape[-1]) != N_KEYS or tuple(model.inputs[0].shape[2:]) != (N_KEYS,):
        raise ConfigError(f"this model does not read and predict {N_KEYS}-key piano-roll frames.")
    rng = rng if rng is not None else np.random.default_rng(cfg.seed)
    stepper = make_stepper(model, cfg.variations)
    out = np.zeros((cfg.variations, cfg.length, N_KEYS), dtype=np.uint8)
    logits = stepper.prime(np.tile(seed[None].astype(np.float32), (cfg.variations, 1, 1)))
    for i in range(cfg.length):
        out[:, i] = sample_frames(logits, cfg, rng)
        if on_progress is not None:
            on_progress(i + 1, cfg.length)
        if i + 1 < cfg.length:
            logits = stepper.step(out[:, i].astype(np.float32))
    return list(out)
