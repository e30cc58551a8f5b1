"""Assemble a causal many-to-many model from an input adapter, a backbone and an output head.

The backbones (:class:`~musegen.models.layers.WaveNetStack`, :class:`~musegen.models.layers.RecurrentStack`,
:class:`~musegen.models.transformer.TransformerStack`) are written once; what varies is how inputs become
feature vectors and how features become outputs. Adapters and heads must act on each time step
independently (Embedding, Dense), which keeps the model causal and lets
:mod:`musegen.models.incremental` run them on one frame at a time.

Token models: ``token_input()`` -> ``token_adapter`` (Embedding) -> backbone -> ``logits_head``
(Dense(V), logits). Piano-roll models: ``frame_input(88)`` (float multi-hot frames) ->
``frame_adapter`` (Dense) -> the same backbone -> ``logits_head(88)``: one logit per key, read
as 88 independent sigmoids (the loss is :class:`~musegen.models.losses.FrameNLL`).
"""

from __future__ import annotations

import keras


def token_input(name: str = "tokens") -> keras.KerasTensor:
    """int32 token ids (B, T), any T."""
    return keras.Input(shape=(None,), dtype="int32", name=name)


def frame_input(keys: int, name: str = "frames") -> keras.KerasTensor:
    """float32 multi-hot frames (B, T, keys), any T."""
    return keras.Input(shape=(None, keys), dtype="float32", name=name)


def token_adapter(vocab_size: int, embed_dim: int) -> keras.layers.Layer:
    """Learned token embeddings (not the tutorial's ``index / n_vocab`` float)."""
    return keras.layers.Embedding(vocab_size, embed_dim, name="embedding")


def frame_adapter(features: int) -> keras.layers.Layer:
    """Dense projection of per-step feature frames (e.g. 88-key multi-hot piano-roll rows)."""
    return keras.layers.Dense(features, name="frame_adapter")


def logits_head(vocab_size: int) -> keras.layers.Layer:
    """Next-token logits (B, T, V) in float32; the loss applies the softmax (``from_logits=True``)."""
    return keras.layers.Dense(vocab_size, dtype="float32", name="logits")


def build_sequence_model(
    inputs: keras.KerasTensor,
    adapter: keras.layers.Layer,
    backbone: keras.layers.Layer,
    head: keras.layers.Layer,
    name: str,
) -> keras.Model:
    """A functional model ``head(backbone(adapter(inputs)))``: a plain chain of three layers."""
    outputs = head(backbone(adapter(inputs)))
    return keras.Model(inputs, outputs, name=name)
