"""Custom Keras layers: the WaveNet dilated stack and the recurrent stack, each written once
(the Transformer stack, with the same contract, is in :mod:`musegen.models.transformer`).

Both backbones map a sequence of feature vectors (B, T, C) to sequence features (B, T, F),
causally, and know how to run one time step at a time from a cached state, which is what
fast generation needs (see :mod:`musegen.models.incremental`):

- ``call_with_state(x)`` runs the whole sequence and returns ``(features, state)``, the state
  being what the next step needs (a list of tensors);
- ``step(x_t, state)`` takes one frame ``(B, 1, C)`` and returns ``(features (B, 1, F), state)``.

Input adapters (token embedding, later piano-roll frames) and output heads are ordinary
per-time-step layers around these stacks. All layers are registered Keras serializables
with a ``get_config``, so ``.keras`` files reload with ``safe_mode=True``.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import ops

PACKAGE = "musegen"


def _tail(x, n: int):
    """The last ``n`` time steps of ``x`` (B, T, C), left-padded with zeros when T < n."""
    padded = ops.pad(x, [[0, 0], [n, 0], [0, 0]])
    return padded[:, -n:, :]


def _causal_conv_step(conv: keras.layers.Conv1D, x_t, buffer):
    """One output frame of a causal, dilated ``conv`` from its cached past inputs.

    ``buffer`` (B, (k-1)*d, C) holds the layer's last (k-1)*d inputs, the state of the fast
    WaveNet algorithm (Paine et al. 2016: one queue per layer, popped instead of recomputed).
    The k taps are every d-th frame of ``buffer + x_t``; the result equals the full causal
    convolution at that position. Returns ``(y_t (B, 1, filters), new_buffer)``.
    """
    d = conv.dilation_rate[0]
    full = ops.concatenate([buffer, x_t], axis=1)  # (B, (k-1)*d + 1, C)
    taps = full[:, ::d, :]  # (B, k, C), oldest first, as the kernel expects
    y = ops.einsum("bkc,kco->bo", taps, ops.cast(conv.kernel, taps.dtype))
    if conv.use_bias:
        y = y + ops.cast(conv.bias, y.dtype)
    if conv.activation is not None:
        y = conv.activation(y)
    return ops.expand_dims(y, 1), full[:, 1:, :]


@keras.saving.register_keras_serializable(package=PACKAGE)
class GatedResidualBlock(keras.layers.Layer):
    """One WaveNet layer: dilated causal conv -> tanh x sigmoid gate -> 1x1 residual and 1x1 skip.

    The last block of a stack only feeds the skip path (``use_residual=False``): its residual
    output would be unused.
    """

    def __init__(
        self,
        channels: int,
        skip_channels: int,
        kernel_size: int,
        dilation: int,
        dropout: float = 0.0,
        use_residual: bool = True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.channels = channels
        self.skip_channels = skip_channels
        self.kernel_size = kernel_size
        self.dilation = dilation
        self.dropout = dropout
        self.use_residual = use_residual
        # filter and gate in one convolution (2 * channels), split afterwards
        self.dilated = keras.layers.Conv1D(
            2 * channels, kernel_size, dilation_rate=dilation, padding="causal", name="dilated"
        )
        self.residual = keras.layers.Conv1D(channels, 1, name="residual") if use_residual else None
        self.skip = keras.layers.Conv1D(skip_channels, 1, name="skip")
        self.drop = keras.layers.Dropout(dropout)

    def build(self, input_shape):
        self.dilated.build(input_shape)
        gated = (*input_shape[:-1], self.channels)
        if self.residual is not None:
            self.residual.build(gated)
        self.skip.build(gated)

    def _gate(self, x, z, training=None):
        filt, gate = ops.split(z, 2, axis=-1)
        g = ops.tanh(filt) * ops.sigmoid(gate)
        g = self.drop(g, training=training)
        return (x + self.residual(g) if self.residual is not None else x), self.skip(g)

    def call(self, x, training=None):
        """Return ``(residual output (B, T, channels), skip (B, T, skip_channels))``."""
        return self._gate(x, self.dilated(x), training)

    @property
    def state_length(self) -> int:
        return (self.kernel_size - 1) * self.dilation

    def step(self, x_t, buffer):
        z, buffer = _causal_conv_step(self.dilated, x_t, buffer)
        res, skip = self._gate(x_t, z, training=False)
        return res, skip, buffer

    def compute_output_shape(self, input_shape):
        return input_shape, (*input_shape[:-1], self.skip_channels)

    def get_config(self):
        return {
            **super().get_config(),
            "channels": self.channels,
            "skip_channels": self.skip_channels,
            "kernel_size": self.kernel_size,
            "dilation": self.dilation,
            "dropout": self.dropout,
            "use_residual": self.use_residual,
        }


@keras.saving.register_keras_serializable(package=PACKAGE)
class WaveNetStack(keras.layers.Layer):
    """The full WaveNet body (van den Oord et al. 2016), causal, on any sequence length.

    causal input conv (``channels``) -> gated residual blocks with the given ``dilations``
    (each adds a skip output) -> sum of skips -> ReLU -> 1x1 conv (``skip_channels``) -> ReLU.
    A head (a 1x1 conv / Dense to the outputs) follows outside this layer.
    """

    def __init__(
        self,
        channels: int,
        skip_channels: int,
        kernel_size: int,
        dilations: Sequence[int],
        dropout: float = 0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.channels = channels
        self.skip_channels = skip_channels
        self.kernel_size = kernel_size
        self.dilations = [int(d) for d in dilations]
        self.dropout = dropout
        self.input_conv = keras.layers.Conv1D(channels, kernel_size, padding="causal", name="input_conv")
        self.blocks = [
            GatedResidualBlock(
                channels, skip_channels, kernel_size, d, dropout, i < len(self.dilations) - 1, name=f"block_{i}_d{d}"
            )
            for i, d in enumerate(self.dilations)
        ]
        self.post = keras.layers.Conv1D(skip_channels, 1, activation="relu", name="post")

    @property
    def receptive_field(self) -> int:
        """Tokens of context one output sees: 1 + (k-1) (input conv) + sum of (k-1)*d."""
        return 1 + (self.kernel_size - 1) * (1 + sum(self.dilations))

    def build(self, input_shape):
        self.input_conv.build(input_shape)
        hidden = (*input_shape[:-1], self.channels)
        for block in self.blocks:
            block.build(hidden)
        self.post.build((*input_shape[:-1], self.skip_channels))

    def _run(self, x, training=None, with_state=False):
        state = [_tail(x, self.kernel_size - 1)] if with_state else []
        h = self.input_conv(x)
        skips = None
        for block in self.blocks:
            if with_state:
                state.append(_tail(h, block.state_length))
            h, skip = block(h, training=training)
            skips = skip if skips is None else skips + skip
        return self.post(ops.relu(skips)), state

    def call(self, x, training=None):
        return self._run(x, training)[0]

    def call_with_state(self, x):
        """Features for the whole sequence and the per-layer input buffers for :meth:`step`."""
        return self._run(x, training=False, with_state=True)

    def step(self, x_t, state):
        h, buf = _causal_conv_step(self.input_conv, x_t, state[0])
        new_state = [buf]
        skips = None
        for block, buffer in zip(self.blocks, state[1:], strict=True):
            h, skip, buffer = block.step(h, buffer)
            new_state.append(buffer)
            skips = skip if skips is None else skips + skip
        return self.post(ops.relu(skips)), new_state

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.skip_channels)

    def get_config(self):
        return {
            **super().get_config(),
            "channels": self.channels,
            "skip_channels": self.skip_channels,
            "kernel_size": self.kernel_size,
            "dilations": list(self.dilations),
            "dropout": self.dropout,
        }


@keras.saving.register_keras_serializable(package=PACKAGE)
class RecurrentStack(keras.layers.Layer):
    """Stacked LSTMs (``layers`` x ``units``) with dropout between and after them, causal by nature."""

    def __init__(self, units: int, layers: int, dropout: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.num_layers = layers
        self.dropout = dropout
        self.lstms = [
            keras.layers.LSTM(units, return_sequences=True, return_state=True, name=f"lstm_{i}") for i in range(layers)
        ]
        self.drops = [keras.layers.Dropout(dropout) for _ in range(layers)]

    def build(self, input_shape):
        shape = tuple(input_shape)
        for lstm in self.lstms:
            lstm.build(shape)
            shape = (*shape[:-1], self.units)

    def _run(self, x, training=None):
        state = []
        for lstm, drop in zip(self.lstms, self.drops, strict=True):
            x, h, c = lstm(x, training=training)
            x = drop(x, training=training)
            state += [h, c]
        return x, state

    def call(self, x, training=None):
        return self._run(x, training)[0]

    def call_with_state(self, x):
        """Features for the whole sequence and the final (h, c) of every layer."""
        return self._run(x, training=False)

    def step(self, x_t, state):
        """One stateful step with the trained cells: ``x_t`` (B, 1, C) -> (B, 1, units)."""
        x = x_t[:, 0, :]
        new_state = []
        for i, lstm in enumerate(self.lstms):
            x, (h, c) = lstm.cell(x, [state[2 * i], state[2 * i + 1]], training=False)
            new_state += [h, c]
        return ops.expand_dims(x, 1), new_state

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "layers": self.num_layers, "dropout": self.dropout}


@keras.saving.register_keras_serializable(package=PACKAGE)
class KeySlice(keras.layers.Layer):
    """``x[..., start:stop]``: one half of a NADE piano-roll model's input (context frame | target frame).

    A serializable slice (Keras' ``Lambda`` is refused by ``safe_mode``).
    """

    def __init__(self, start: int, stop: int, **kwargs):
        super().__init__(**kwargs)
        self.start, self.stop = int(start), int(stop)

    def call(self, x):
        return x[..., self.start : self.stop]

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.stop - self.start)

    def get_config(self):
        return {**super().get_config(), "start": self.start, "stop": self.stop}
