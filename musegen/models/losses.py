"""The piano-roll loss: the frame negative log-likelihood, summed over keys.

Keras' ``BinaryCrossentropy`` averages over the last axis; the polyphonic-music literature
(Boulanger-Lewandowski et al. 2012, Bai et al. 2018) reports the SUM over the 88 keys per
frame, averaged over frames. ``FrameNLL`` returns that per-frame sum, so with a padding
mask as sample weight and ``mean_with_sample_weight`` reduction a batch's loss is the mean
frame NLL in nats over its real frames: the benchmark's number.
"""

from __future__ import annotations

import keras
from keras import ops

from musegen.models.layers import PACKAGE


@keras.saving.register_keras_serializable(package=PACKAGE)
class FrameNLL(keras.losses.Loss):
    """Sum over keys of the binary cross-entropy of sigmoid ``logits`` (B, T, K) against 0/1 targets."""

    def __init__(self, name: str = "frame_nll", reduction: str = "mean_with_sample_weight", **kwargs):
        super().__init__(name=name, reduction=reduction, **kwargs)

    def call(self, y_true, y_pred):
        z = ops.cast(y_pred, "float32")
        y = ops.cast(y_true, "float32")
        # log(1 + exp(z)) - y z, the stable form of -[y log s(z) + (1 - y) log(1 - s(z))]
        return ops.sum(ops.softplus(z) - y * z, axis=-1)
