"""What a representation gives the training loop: its tf.data pipelines and their sizes."""

from __future__ import annotations

from typing import Any, NamedTuple


class TrainingData(NamedTuple):
    """What :meth:`Representation.training_data` gives the training loop."""

    train: Any  # tf.data.Dataset of (x, y, w) batches, None when there are no training windows
    val: Any | None  # the same of the validation pieces, None without any
    samples: int  # training examples per epoch (0: nothing to train on)
    global_batch: int  # examples per batch (the one asked for, clipped to ``samples``)
    batches: int = 0  # batches per epoch, when not ceil(samples / global_batch); 0: that
