"""The tutorial's two models, kept faithfully so a user can hear and measure the difference.

Source: A. Pai, "How to Perform Automatic Music Generation" (Analytics Vidhya, 2020), the Keras
WaveNet + LSTM tutorial on music21 notes. Both models read a window of ``window`` events, each
given as the single float ``index / n_vocab`` (shape (window, 1)), and predict ONE next event
with a softmax over the vocabulary (output (B, V) probabilities, trained with sparse categorical
cross-entropy on probabilities).

classic-wavenet (the tutorial's "WaveNet": plain dilated causal convolutions, no gates, no
residual or skip paths), dilation 2**i for i = 0, 1, 2::

    Conv1D(64, 3, dilation 1, causal, relu) -> Dropout(0.2) -> MaxPool1D(2)
    Conv1D(128, 3, dilation 2, causal, relu) -> Dropout(0.2) -> MaxPool1D(2)
    Conv1D(256, 3, dilation 4, causal, relu) -> Dropout(0.2) -> MaxPool1D(2)
    GlobalMaxPool1D -> Dense(256, relu) -> Dense(V, softmax)

classic-lstm::

    LSTM(128, return_sequences=True) -> LSTM(128) -> Dense(256, relu) -> Dense(V, softmax)

The layer sizes are the tutorial's. One deliberate difference: the tutorial's published WaveNet
code starts with ``Embedding(n_vocab, 100)`` on 32 events; musegen's classic path uses the scalar
``index / n_vocab`` input on 128 events for both models, as described in DESIGN.md, so the two
classic models share one input format. ``ModelConfig`` sizes do not apply to these models.
"""

from __future__ import annotations

import keras

from musegen.errors import ConfigError

MIN_WINDOW = 8  # three MaxPool1D(2) need at least 8 steps


def _classic_input(window: int) -> keras.KerasTensor:
    if window < MIN_WINDOW:
        raise ConfigError(f"the classic models need a window of at least {MIN_WINDOW} events; got {window}.")
    return keras.Input(shape=(window, 1), dtype="float32", name="scaled_index")


def build_classic_wavenet(vocab_size: int, window: int) -> keras.Model:
    """The tutorial's dilated Conv1D stack: (B, window, 1) floats -> (B, V) probabilities."""
    inputs = _classic_input(window)
    x = inputs
    for i, filters in enumerate((64, 128, 256)):
        x = keras.layers.Conv1D(filters, 3, dilation_rate=2**i, padding="causal", activation="relu")(x)
        x = keras.layers.Dropout(0.2)(x)
        x = keras.layers.MaxPool1D(2)(x)
    x = keras.layers.GlobalMaxPool1D()(x)
    x = keras.layers.Dense(256, activation="relu")(x)
    outputs = keras.layers.Dense(vocab_size, activation="softmax", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="classic_wavenet")


def build_classic_lstm(vocab_size: int, window: int) -> keras.Model:
    """The tutorial's two-layer LSTM: (B, window, 1) floats -> (B, V) probabilities."""
    inputs = _classic_input(window)
    x = keras.layers.LSTM(128, return_sequences=True)(inputs)
    x = keras.layers.LSTM(128)(x)
    x = keras.layers.Dense(256, activation="relu")(x)
    outputs = keras.layers.Dense(vocab_size, activation="softmax", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="classic_lstm")
