"""A small decoder-only music Transformer: causal self-attention with rotary positions, pre-LayerNorm blocks.

The third backbone beside the WaveNet and the LSTM (the models behind Music Transformer, Huang
et al. 2018, SkyTNT's midi-model and EleutherAI's Aria are decoder-only Transformers), written
as serializable Keras layers with the same contract as :mod:`musegen.models.layers`: features
(B, T, C) -> (B, T, d_model), causal, plus ``call_with_state`` and ``step`` for generation.

**Positions: rotary embeddings** (RoPE, Su et al. 2021). Each head's queries and keys are rotated
by an angle proportional to their position, pair of channels by pair of channels, so a
query-key dot product depends only on the *difference* of their positions: relative position
information, as Music Transformer's relative attention gives, with no extra parameters and no
skewing trick. It is also what makes the sliding cache below correct: a key rotated once, when
its token was read, stays valid however far the window slides, whereas learned absolute position
embeddings would tie every cached key to a slot of a fixed-length window.

**Attention span and the key/value cache.** Every position attends to at most the last
``span`` positions, itself included (``ModelConfig.attention_span``; 0 there means the training
window, so attention never sees a distance it was not trained on). Training windows no longer
than the span see the plain causal mask; longer inputs (whole pieces when piano-roll frames are
scored) use a banded causal mask computed block by block, linear in length. For
generation every layer keeps the rotated keys and the values of its last ``span`` positions in a
fixed-size buffer (B, heads, span, head_dim), plus one position counter, so the step compiled with
XLA has fixed shapes: each new token is one query against the buffer, and beyond ``span`` tokens
the oldest entry drops out (a sliding cache; attention sees the last ``span`` tokens, their RoPE
positions still correct relative to each other). Because the full forward pass applies the same
band, incremental decoding equals the full forward pass at every length (tested), not only
within the first window.

Blocks are pre-LayerNorm (GPT-2): ``x + Dropout(Attention(LN(x)))``, then
``x + Dropout(FF(LN(x)))`` with a GELU feed-forward of ``ff_mult * d_model``; a final LayerNorm
closes the stack. Dropout also applies to the attention weights and to the projected input.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops

from musegen.config import DataConfig, ModelConfig
from musegen.models.layers import PACKAGE
from musegen.models.sequence import build_sequence_model, logits_head, token_adapter, token_input

ROPE_BASE = 10_000.0  # the rotary wavelengths run from 2*pi to about 2*pi*ROPE_BASE positions
_MASKED = -1e9  # a score no attention weight survives (exp underflows to 0 in float32)
_EPSILON = 1e-5  # of the LayerNorms (GPT-2's)


def rope_frequencies(head_dim: int, base: float = ROPE_BASE) -> np.ndarray:
    """The (head_dim / 2,) angular frequencies of the rotary embedding: ``base ** (-2i / head_dim)``."""
    return (1.0 / base ** (np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)).astype(np.float32)


def apply_rope(x, positions, frequencies):
    """``x`` (B, H, T, D) with channel pairs (i, i + D/2) rotated by ``positions`` (T,) float32 x frequency."""
    angles = positions[:, None] * frequencies[None, :]  # (T, D/2), float32 whatever x's dtype
    cos, sin = ops.cast(ops.cos(angles)[None, None], x.dtype), ops.cast(ops.sin(angles)[None, None], x.dtype)
    x1, x2 = ops.split(x, 2, axis=-1)
    return ops.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)


def _attend(scores, mask, values, equation: str, dropout: keras.layers.Layer, training):
    """Masked softmax of ``scores`` over the keys, dropout, then the weighted sum of ``values``.

    The softmax runs in float32 also under mixed precision (``_MASKED`` is past float16's range)."""
    # one key (a one-token sequence) takes all the weight; ops.softmax would warn about a size-1 axis
    one_key = scores.shape[-1] == 1
    scores = ops.cast(scores, "float32")
    weights = ops.ones_like(scores) if one_key else ops.softmax(ops.where(mask, scores, _MASKED), axis=-1)
    return ops.einsum(equation, ops.cast(dropout(weights, training=training), values.dtype), values)


def _dense_attention(q, k, v, span: int, dropout, training):
    """Attention of every position over all positions (T x T scores), banded causal mask."""
    t = ops.shape(q)[2]
    i, j = ops.arange(t)[:, None], ops.arange(t)[None, :]
    mask = ((j <= i) & (i - j < span))[None, None]  # (1, 1, T, T)
    scores = ops.einsum("bhqd,bhkd->bhqk", q, k)
    return _attend(scores, mask, v, "bhqk,bhkd->bhqd", dropout, training)


def _blocked_attention(q, k, v, span: int, dropout, training):
    """The same result for T > span, in blocks of ``span`` queries: memory linear in T, not quadratic.

    The queries of block c (positions c*span ... c*span + span - 1) can only see keys of blocks
    c - 1 and c, so each block scores ``span`` queries against those ``2 * span`` keys.
    """
    b, h, t, d = ops.shape(q)[0], q.shape[1], ops.shape(q)[2], q.shape[3]
    blocks = (t + span - 1) // span
    pad = blocks * span - t  # < span < t: a slice of the input has the padding's shape
    q = ops.concatenate([q, ops.zeros_like(q[:, :, :pad])], axis=2)
    k = ops.concatenate([ops.zeros_like(k[:, :, :span]), k, ops.zeros_like(k[:, :, :pad])], axis=2)
    v = ops.concatenate([ops.zeros_like(v[:, :, :span]), v, ops.zeros_like(v[:, :, :pad])], axis=2)
    qb = ops.reshape(q, (b, h, blocks, span, d))
    kb, vb = ops.reshape(k, (b, h, blocks + 1, span, d)), ops.reshape(v, (b, h, blocks + 1, span, d))
    keys = ops.concatenate([kb[:, :, :-1], kb[:, :, 1:]], axis=3)  # (B, H, blocks, 2*span, D): previous + own
    values = ops.concatenate([vb[:, :, :-1], vb[:, :, 1:]], axis=3)
    i, j = ops.arange(span)[:, None], ops.arange(2 * span)[None, :]
    band = (j > i) & (j <= i + span)  # key j of the pair is causal and within the span of query i
    real = (ops.arange(blocks)[:, None, None] > 0) | (j[None] >= span)  # block 0 has no previous block
    mask = (band[None] & real)[None, None]  # (1, 1, blocks, span, 2*span)
    scores = ops.einsum("bhcqd,bhckd->bhcqk", qb, keys)
    out = _attend(scores, mask, values, "bhcqk,bhckd->bhcqd", dropout, training)
    return ops.reshape(out, (b, h, blocks * span, d))[:, :, :t]


def banded_causal_attention(q, k, v, span: int, dropout: keras.layers.Layer, training=None):
    """Softmax attention over (B, H, T, D) heads where position t sees positions t - span + 1 ... t.

    A length known when the graph is built picks the cheaper form: T x T scores up to ``span``,
    blocks beyond. A length known only when the graph runs (training batches cut to their
    longest piece, a relaxed-shape trace of a seed) takes the T x T form, which is exact at
    any length and small at those lengths (training windows; seeds of at most a few windows).
    """
    t = q.shape[2]
    blocked = t is not None and t > span
    return (_blocked_attention if blocked else _dense_attention)(q, k, v, span, dropout, training)


@keras.saving.register_keras_serializable(package=PACKAGE)
class CausalSelfAttention(keras.layers.Layer):
    """Multi-head causal self-attention with rotary positions over a span of ``span`` positions."""

    def __init__(
        self, d_model: int, heads: int, span: int, dropout: float = 0.0, rope_base: float = ROPE_BASE, **kwargs
    ):
        super().__init__(**kwargs)
        self.d_model, self.heads, self.span, self.dropout, self.rope_base = d_model, heads, span, dropout, rope_base
        self.head_dim = d_model // heads
        self.qkv = keras.layers.Dense(3 * d_model, name="qkv")
        self.out = keras.layers.Dense(d_model, name="out")
        self.drop = keras.layers.Dropout(dropout)
        self._frequencies = rope_frequencies(self.head_dim, rope_base)  # constants, not weights

    def build(self, input_shape):
        self.qkv.build(input_shape)
        self.out.build((*input_shape[:-1], self.d_model))

    def _project(self, x, positions):
        """Queries (scaled by 1/sqrt(head_dim)) and keys rotated to ``positions``, and values: (B, H, T, D) each.

        Heads come first (one transpose here) so that every attention product is a plain batched
        matrix product, and the cache a step reads needs no transpose.
        """
        qkv = ops.reshape(self.qkv(x), (ops.shape(x)[0], ops.shape(x)[1], 3, self.heads, self.head_dim))
        qkv = ops.transpose(qkv, (2, 0, 3, 1, 4))  # (3, B, H, T, D)
        frequencies = ops.convert_to_tensor(self._frequencies)
        q = apply_rope(qkv[0], positions, frequencies) * (1.0 / math.sqrt(self.head_dim))
        return q, apply_rope(qkv[1], positions, frequencies), qkv[2]

    def _merge(self, heads):
        """(B, H, T, D) heads -> the output projection of their concatenation (B, T, d_model)."""
        merged = ops.transpose(heads, (0, 2, 1, 3))
        return self.out(ops.reshape(merged, (ops.shape(merged)[0], ops.shape(merged)[1], self.d_model)))

    def call_with_kv(self, x, training=None):
        """``(output (B, T, d_model), rotated keys, values)``; positions count from 0."""
        q, k, v = self._project(x, ops.cast(ops.arange(ops.shape(x)[1]), "float32"))
        return self._merge(banded_causal_attention(q, k, v, self.span, self.drop, training)), k, v

    def call(self, x, training=None):
        return self.call_with_kv(x, training)[0]

    def step(self, x_t, keys, values, position):
        """One token ``x_t`` (B, 1, d_model) at ``position`` against the cache of the last ``span`` positions.

        ``keys``/``values`` (B, H, span, D) hold the previous positions, newest last (slots not yet
        written are masked); the new key and value go in at the end and the oldest drop out.
        """
        q, k, v = self._project(x_t, ops.reshape(ops.cast(position, "float32"), (1,)))
        keys = ops.concatenate([keys[:, :, 1:], k], axis=2)
        values = ops.concatenate([values[:, :, 1:], v], axis=2)
        written = (ops.arange(self.span) >= self.span - 1 - position)[None, None, None]  # (1, 1, 1, span)
        scores = ops.einsum("bhqd,bhkd->bhqk", q, keys)
        out = _attend(scores, written, values, "bhqk,bhkd->bhqd", self.drop, False)
        return self._merge(out), keys, values

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.d_model)

    def get_config(self):
        return {
            **super().get_config(),
            "d_model": self.d_model,
            "heads": self.heads,
            "span": self.span,
            "dropout": self.dropout,
            "rope_base": self.rope_base,
        }


@keras.saving.register_keras_serializable(package=PACKAGE)
class TransformerBlock(keras.layers.Layer):
    """One pre-LayerNorm block: ``x + Drop(Attn(LN(x)))``, then ``x + Drop(FF(LN(x)))`` (GELU, ff_mult x wider)."""

    def __init__(
        self,
        d_model: int,
        heads: int,
        ff_mult: int,
        span: int,
        dropout: float = 0.0,
        rope_base: float = ROPE_BASE,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.d_model, self.heads, self.ff_mult, self.span = d_model, heads, ff_mult, span
        self.dropout, self.rope_base = dropout, rope_base
        self.attention_norm = keras.layers.LayerNormalization(epsilon=_EPSILON, name="attention_norm")
        self.attention = CausalSelfAttention(d_model, heads, span, dropout, rope_base, name="attention")
        self.ff_norm = keras.layers.LayerNormalization(epsilon=_EPSILON, name="ff_norm")
        self.ff_in = keras.layers.Dense(ff_mult * d_model, activation="gelu", name="ff_in")
        self.ff_out = keras.layers.Dense(d_model, name="ff_out")
        self.attention_drop = keras.layers.Dropout(dropout)
        self.ff_drop = keras.layers.Dropout(dropout)

    def build(self, input_shape):
        for layer in (self.attention_norm, self.attention, self.ff_norm, self.ff_in):
            layer.build(input_shape)
        self.ff_out.build((*input_shape[:-1], self.ff_mult * self.d_model))

    def _feed_forward(self, h, training):
        return h + self.ff_drop(self.ff_out(self.ff_in(self.ff_norm(h))), training=training)

    def call_with_kv(self, x, training=None):
        """``(output (B, T, d_model), keys, values)`` of the block's attention."""
        a, k, v = self.attention.call_with_kv(self.attention_norm(x), training)
        return self._feed_forward(x + self.attention_drop(a, training=training), training), k, v

    def call(self, x, training=None):
        return self.call_with_kv(x, training)[0]

    def step(self, x_t, keys, values, position):
        a, keys, values = self.attention.step(self.attention_norm(x_t), keys, values, position)
        return self._feed_forward(x_t + a, False), keys, values

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "d_model": self.d_model,
            "heads": self.heads,
            "ff_mult": self.ff_mult,
            "span": self.span,
            "dropout": self.dropout,
            "rope_base": self.rope_base,
        }


@keras.saving.register_keras_serializable(package=PACKAGE)
class TransformerStack(keras.layers.Layer):
    """Dense(d_model) input projection -> ``layers`` pre-LN blocks -> LayerNorm; see the module doc.

    State for :meth:`step` (see :mod:`musegen.models.incremental`): ``[position, keys_0, values_0,
    keys_1, ...]``, the int32 count of tokens read so far and each layer's (B, heads, span,
    head_dim) buffers of its last ``span`` rotated keys and values.
    """

    def __init__(
        self,
        d_model: int,
        heads: int,
        layers: int,
        ff_mult: int = 4,
        span: int = DataConfig.window,
        dropout: float = 0.0,
        rope_base: float = ROPE_BASE,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.d_model, self.heads, self.num_layers, self.ff_mult = d_model, heads, layers, ff_mult
        self.span, self.dropout, self.rope_base = span, dropout, rope_base
        self.input_projection = keras.layers.Dense(d_model, name="input_projection")
        self.input_drop = keras.layers.Dropout(dropout)
        self.blocks = [
            TransformerBlock(d_model, heads, ff_mult, span, dropout, rope_base, name=f"block_{i}")
            for i in range(layers)
        ]
        self.final_norm = keras.layers.LayerNormalization(epsilon=_EPSILON, name="final_norm")

    def build(self, input_shape):
        self.input_projection.build(input_shape)
        hidden = (*input_shape[:-1], self.d_model)
        for block in self.blocks:
            block.build(hidden)
        self.final_norm.build(hidden)

    def _run(self, x, training=None):
        h = self.input_drop(self.input_projection(x), training=training)
        caches = []
        for block in self.blocks:
            h, k, v = block.call_with_kv(h, training)
            caches += [k, v]
        return self.final_norm(h), caches

    def call(self, x, training=None):
        return self._run(x, training)[0]

    def call_with_state(self, x):
        """Features for the whole sequence and the cache of its last ``span`` positions (zeros before the first)."""
        features, caches = self._run(x, training=False)
        position = ops.cast(ops.shape(x)[1], "int32")
        tails = [ops.pad(c, [[0, 0], [0, 0], [self.span, 0], [0, 0]])[:, :, -self.span :] for c in caches]
        return features, [position, *tails]

    def step(self, x_t, state):
        """One token ``x_t`` (B, 1, C) -> (features (B, 1, d_model), the state with it appended)."""
        position, caches = state[0], state[1:]
        h = self.input_projection(x_t)
        new_caches = []
        for i, block in enumerate(self.blocks):
            h, k, v = block.step(h, caches[2 * i], caches[2 * i + 1], position)
            new_caches += [k, v]
        return self.final_norm(h), [position + 1, *new_caches]

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.d_model)

    def get_config(self):
        return {
            **super().get_config(),
            "d_model": self.d_model,
            "heads": self.heads,
            "layers": self.num_layers,
            "ff_mult": self.ff_mult,
            "span": self.span,
            "dropout": self.dropout,
            "rope_base": self.rope_base,
        }


def attention_span(cfg: ModelConfig, window: int | None) -> int:
    """The span of ``cfg``: ``attention_span``, else the training ``window``, else the default window."""
    return cfg.attention_span or window or DataConfig.window


def transformer_stack(cfg: ModelConfig, window: int | None = None, name: str = "transformer") -> TransformerStack:
    """The Transformer backbone alone, for reuse with other adapters and heads (frames: the Dense adapter)."""
    return TransformerStack(
        cfg.d_model, cfg.heads, cfg.transformer_layers, cfg.ff_mult, attention_span(cfg, window), cfg.dropout, name=name
    )


def build_transformer(cfg: ModelConfig, vocab_size: int, window: int | None = None) -> keras.Model:
    """int32 ids (B, T) -> logits (B, T, V), causal; attention spans ``window`` unless ``cfg.attention_span`` is set."""
    return build_sequence_model(
        token_input(),
        token_adapter(vocab_size, cfg.embed_dim),
        transformer_stack(cfg, window),
        logits_head(vocab_size),
        "transformer",
    )
