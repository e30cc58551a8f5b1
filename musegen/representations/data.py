"""The training-data part of the Representation interface: the tf.data pipelines a run trains on.

``training_data`` is the one entry point the training loop calls. By default it cuts ``windows``
(x, y, w) of the training sequences in memory (``train_windows``: token runs add their
fill-in-the-middle examples there), shuffles and ``batches`` them, and batches the validation
windows ``val_batch`` at a time; a representation may stream instead (the piano roll does, and says
so with ``transposes_on_the_fly``). ``store_training_data`` reads the same batches from an on-disk
token store.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from musegen.config import ModelConfig, RunConfig
from musegen.errors import ConfigError
from musegen.streams.training_data import TrainingData


class Data:
    """A representation's training and validation batches."""

    name: ClassVar[str]
    # True when ``training_data`` applies ``DataConfig.transpose`` itself, example by example: the
    # dataset then holds each training piece once (no transposed copies)
    transposes_on_the_fly: ClassVar[bool] = False

    def training_data(
        self,
        train_seqs: Sequence[np.ndarray],
        val_seqs: Sequence[np.ndarray],
        config: RunConfig,
        global_batch: int,
        seed: int,
    ) -> TrainingData:
        """The tf.data pipelines of a run: (x, y, w) batches of ``train_seqs`` (shuffled every epoch with
        ``seed``) and of ``val_seqs``, ``global_batch`` examples per batch (clipped to the examples).

        By default: ``windows`` of the training sequences (``config.data.window`` and ``stride``) in
        memory, shuffled, then ``batches``; validation windows without overlap, ``val_batch`` per
        batch. ``samples`` is 0 (and the datasets None) when there is no training window.
        """
        import tensorflow as tf

        window = config.data.window
        x, y, w = self.train_windows(list(train_seqs), config, seed)
        val = self.windows(list(val_seqs), window, window, config.model) if len(val_seqs) else None
        val = None if val is None or len(val[1]) == 0 else val
        if len(y) == 0:
            return TrainingData(None, None, 0, 0)
        global_batch = min(global_batch, len(y))
        train_ds = tf.data.Dataset.from_tensor_slices((x, y, w)).shuffle(
            len(y), seed=seed, reshuffle_each_iteration=True
        )
        train_ds, n_batches = self.batches(train_ds, w, global_batch)
        val_ds = None
        if val is not None:
            val_batch = self.val_batch(len(val[1]), window, global_batch)
            val_ds = tf.data.Dataset.from_tensor_slices(val).batch(val_batch).prefetch(2)
        return TrainingData(train_ds.prefetch(2), val_ds, len(y), int(global_batch), n_batches)

    def train_windows(
        self, seqs: Sequence[np.ndarray], config: RunConfig, seed: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The training arrays of the default ``training_data``: ``windows`` (token runs add their
        fill-in-the-middle examples here, drawn with ``seed``)."""
        return self.windows(seqs, config.data.window, config.data.stride, config.model)

    def windows(
        self, seqs: Sequence[np.ndarray], window: int, stride: int, model: ModelConfig
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Training arrays (x, y, w) of ``seqs`` for a model of ``model``: w is 0 where a target is padding.

        Used by the default ``training_data``; a representation that overrides it need not have windows.
        """
        raise ConfigError(f"the {self.name} representation streams its training data (training_data), no windows.")

    def batches(self, dataset: Any, mask: np.ndarray, batch: int) -> tuple[Any, int]:
        """Batch a shuffled ``tf.data`` dataset of (x, y, w); returns it and its batches per epoch (0: plain)."""
        return dataset.batch(batch), 0

    def val_batch(self, n_windows: int, window: int, global_batch: int) -> int:
        """Windows per validation batch."""
        return min(global_batch, n_windows)

    def store_training_data(self, store: Any, config: RunConfig, global_batch: int, seed: int) -> TrainingData:
        """:meth:`training_data` read from a token store (:class:`musegen.streams.store.TokenStore`), whose
        windows stream from disk: the same (x, y, w) batches, never the whole corpus in memory."""
        raise ConfigError(
            f"the {self.name} representation cannot train from a token store; train it from --data instead."
        )
