"""Fast incremental decoding: one compiled step per generated token, no ``model.predict``.

- WaveNet: every causal convolution keeps its last (k-1)*d inputs (the per-layer queues of
  Paine et al. 2016, "Fast Wavenet Generation Algorithm"); a step costs one dilated tap per
  layer instead of recomputing the receptive field.
- LSTM: a stateful step through the trained cells, carrying (h, c) of every layer.
- classic models (one softmax per window, no incremental form): a compiled call on the sliding
  window, still not ``model.predict``.

A :class:`Stepper` holds a batch of B sequences: ``prime(ids (B, T))`` feeds the seed and returns
the next-token logits (B, V); ``step(ids (B,))`` appends one token per sequence and returns the
next logits. The result equals the full forward pass ``model(x)[:, t]`` (tested).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from musegen.errors import ModelLoadError
from musegen.models.layers import BACKBONES

_PROBE_STEPS = 5


class Stepper:
    """Incremental decoder for a many-to-many model built as adapter -> backbone -> head."""

    def __init__(self, model: keras.Model, batch_size: int):
        chain = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
        cores = [i for i, layer in enumerate(chain) if isinstance(layer, BACKBONES)]
        if len(cores) != 1:
            raise ModelLoadError(
                f"model {model.name!r} has no single WaveNet/LSTM stack; it cannot decode step by step."
            )
        self.model = model
        self.batch_size = int(batch_size)
        self._pre, self._core, self._post = chain[: cores[0]], chain[cores[0]], chain[cores[0] + 1 :]
        self._input_dtype = model.inputs[0].dtype
        self._frame_shape = tuple(model.inputs[0].shape[2:])  # () for token ids
        self._check_chain()
        self._state: list[tf.Tensor] | None = None
        self._prime_fn = tf.function(self._prime_graph, reduce_retracing=True)
        self._step_fn = tf.function(self._step_graph, reduce_retracing=True)

    def _apply(self, layers, x):
        for layer in layers:
            x = layer(x, training=False)
        return x

    def _check_chain(self) -> None:
        """Applying the layers one after another must reproduce the model (it is a plain chain)."""
        probe = np.zeros((1, _PROBE_STEPS, *self._frame_shape), dtype=self._input_dtype)
        chained = self._apply(self._post, self._core(self._apply(self._pre, probe), training=False))
        if not np.allclose(np.asarray(chained), np.asarray(self.model(probe, training=False)), atol=1e-5):
            raise ModelLoadError(f"model {self.model.name!r} is not an adapter -> stack -> head chain.")

    def _prime_graph(self, ids):
        features, state = self._core.call_with_state(self._apply(self._pre, ids))
        return self._apply(self._post, features[:, -1:])[:, 0], state

    def _step_graph(self, ids, state):
        features, state = self._core.step(self._apply(self._pre, tf.expand_dims(ids, 1)), state)
        return self._apply(self._post, features)[:, 0], state

    def prime(self, ids: np.ndarray) -> np.ndarray:
        """Feed the seed ``ids`` (B, T), T >= 1; return logits (B, V) for the token after it."""
        ids = np.asarray(ids, dtype=self._input_dtype)
        if ids.ndim < 2 or ids.shape[0] != self.batch_size or ids.shape[1] < 1:
            raise ValueError(f"prime expects ({self.batch_size}, T >= 1) ids, got shape {ids.shape}.")
        logits, self._state = self._prime_fn(tf.convert_to_tensor(ids))
        return logits.numpy()

    def step(self, ids: np.ndarray) -> np.ndarray:
        """Append one token per sequence (B,); return logits (B, V) for the next one."""
        if self._state is None:
            raise RuntimeError("call prime() with a seed before step().")
        ids = np.asarray(ids, dtype=self._input_dtype).reshape(self.batch_size, *self._frame_shape)
        logits, self._state = self._step_fn(tf.convert_to_tensor(ids), self._state)
        return logits.numpy()


class ClassicStepper:
    """Sliding-window decoder for the tutorial's models: (B, window, 1) ``id / n_vocab`` -> (B, V).

    Returns log-probabilities as "logits" (softmax of them gives back the model's probabilities).
    A seed shorter than the window is left-padded with ``pad_id``.
    """

    def __init__(self, model: keras.Model, batch_size: int, pad_id: int = 0):
        self.model = model
        self.batch_size = int(batch_size)
        self.window = int(model.inputs[0].shape[1])
        self.n_vocab = int(model.outputs[0].shape[-1])
        self.pad_id = pad_id
        self._ids = np.full((self.batch_size, self.window), pad_id, dtype=np.int64)
        self._call = tf.function(lambda x: model(x, training=False), reduce_retracing=True)

    def _logits(self) -> np.ndarray:
        x = (self._ids / self.n_vocab).astype(np.float32)[..., None]
        probs = self._call(tf.convert_to_tensor(x)).numpy().astype(np.float64)
        return np.log(np.maximum(probs, 1e-30))

    def prime(self, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids)
        if ids.ndim != 2 or ids.shape[0] != self.batch_size or ids.shape[1] < 1:
            raise ValueError(f"prime expects ({self.batch_size}, T >= 1) ids, got shape {ids.shape}.")
        tail = ids[:, -self.window :]
        self._ids[:] = self.pad_id
        self._ids[:, self.window - tail.shape[1] :] = tail
        return self._logits()

    def step(self, ids: np.ndarray) -> np.ndarray:
        self._ids = np.roll(self._ids, -1, axis=1)
        self._ids[:, -1] = np.asarray(ids).reshape(self.batch_size)
        return self._logits()


def is_sequence_model(model: keras.Model) -> bool:
    """Many-to-many (B, T, ...) output, as opposed to the classic one-target (B, V) output."""
    return len(model.outputs[0].shape) == 3


def make_stepper(model: keras.Model, batch_size: int, pad_id: int = 0) -> Stepper | ClassicStepper:
    """The fastest decoder available for ``model`` and a batch of ``batch_size`` sequences."""
    if is_sequence_model(model):
        return Stepper(model, batch_size)
    return ClassicStepper(model, batch_size, pad_id=pad_id)
