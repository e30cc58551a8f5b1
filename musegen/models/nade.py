"""A NADE output head for piano-roll models: the frame's keys predicted one after another, low to high.

A piano-roll backbone reads frames (B, T, K) of 0/1 keys and, at every time t, produces a
feature vector h_t (D) from frames 0..t. The plain head gives every key of frame t + 1 its own
sigmoid, so the keys are independent given h_t: a chord is K coin flips. The NADE head (the
Neural Autoregressive Distribution Estimator, Larochelle & Murray 2011, as the output of the
RNN-NADE of Boulanger-Lewandowski, Bengio & Vincent, ICML 2012; Magenta's ``nade.py`` is the
same model) factorizes the frame autoregressively over the keys, low (index 0) to high::

    p(x | h_t) = prod_k p(x_k | x_<k, h_t)

with one hidden layer of H units shared by all the conditionals. With keys K, hidden H and
backbone features D:

- a conditioning Dense D -> K + H turns h_t into per-time biases ``b_t`` (K) and ``c_t`` (H);
  as in RNN-NADE the biases, not the weights, are functions of the backbone state;
- ``W`` (K, H) are the input weights (key j, once decided, adds ``W_j`` to every later hidden
  pre-activation), ``V`` (K, H) the output weights (row k reads key k's conditional);
- ``a_k = c_t + sum_{j<k} x_j W_j``,  ``h_k = sigmoid(a_k)``,
  ``logit_k = b_t[k] + V_k . h_k``,  ``p(x_k = 1 | x_<k, h_t) = sigmoid(logit_k)``.

So -log p(x | h_t) = sum_k BCE(x_k, sigmoid(logit_k)): :class:`musegen.models.losses.FrameNLL`
applied to the logits of :meth:`NADEHead.call` and the targets is the exact NADE negative
log-likelihood of the frame, as it is the exact independent-sigmoid NLL for the plain head.

**Training** (:meth:`NADEHead.call`) is teacher-forced: the true keys are known, so all K
conditionals come out of one pass, no loop over keys. ``a_k`` only changes where a key below k is
on: it is ``c_t + S_r`` with ``r_k`` the *rank* of key k (the count of keys on below it) and ``S_r``
the sum of ``W_j`` over the first r keys on. A frame with n keys on has n + 1 distinct hidden
layers, not K, so the pass computes one per rank 0..R-1, R the most keys on in any frame of the
batch plus one (about 5 on JSB Chorales, at most about 15 on MuseData): ``S`` is one matmul of a
(B, T, R, K) 0/1 matrix with ``W``, the reads ``V_k . h_r`` of every rank by every key one matmul
of the (B, T, R, H) hidden layers with ``V``, and key k keeps the read of its rank. Time and
memory are O(B·T·R·K·H) and (B, T, R, H) + (B, T, R, K), where the form by key (a (B, T, K, H)
tensor of pre-activations, from one matmul of the frames with a (K, K·H) matrix that holds
``W_j`` in block k where j < k) held 4·B·T·K·H bytes (185 MB for B=32, T=128, K=88, H=128, float32)
and its sigmoid. R is a dynamic size, which XLA does not compile: under ``jit_compile`` (the
default on a GPU) the head takes the form by key, whose shapes are static. Both give the same
logits and gradients to float rounding (tested); BENCHMARKS.md ("Training speed") has the timings.

**Sampling** (:meth:`NADEHead.sample`) cannot be parallel over keys: key k's conditional needs
the keys drawn below it. A frame is K dependent steps of O(B·H) each (the same arithmetic as
training, but sequential), written in TensorFlow ops so that one ``tf.function(jit_compile=True)``
call draws a whole frame, not K calls from Python. The key loop is a ``fori_loop`` (a
``tf.while_loop``), not a Python loop unrolled when traced: unrolled, XLA took about a minute on
CPU to compile the 88 steps of a frame; as a loop it compiles in under a second. The caller draws
the uniforms with numpy, so a frame is reproducible from a numpy seed.

Temperature, greedy decoding and top-k act on the *conditionals*, key by key: each conditional
logit is divided by the temperature before its sigmoid; temperature <= 0 is greedy (key k on iff
its conditional logit > 0, given the keys already chosen below it, which is not the most probable
frame); top-k turns every key above off once k keys are on. The logits :meth:`NADEHead.sample`
returns are the conditional logits before temperature, so they equal :meth:`NADEHead.call` on the
frame drawn (tested).
"""

from __future__ import annotations

import keras
from keras import ops

from musegen.models.layers import PACKAGE


def _in_xla() -> bool:
    """Whether the op being traced will be compiled by XLA (``jit_compile``), which needs static shapes.

    TensorFlow's own test (private: were it gone or renamed, the head would take the static-shape form)."""
    try:
        import tensorflow as tf
        from tensorflow.python.ops.control_flow_util import GraphOrParentsInXlaContext

        return bool(GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph()))
    except Exception:  # not TensorFlow, or the private name moved
        return True


@keras.saving.register_keras_serializable(package=PACKAGE)
class NADEHead(keras.layers.Layer):
    """The NADE distribution of a frame of ``keys`` 0/1 keys given backbone features; see the module doc.

    Weights: ``conditioning_kernel`` (D, K + H) and ``conditioning_bias`` (K + H) of the Dense
    that gives ``b_t`` (the first K outputs) and ``c_t`` (the last H); ``w`` (K, H) the input
    weights; ``v`` (K, H) the output weights. Glorot-uniform kernels, zero biases.

    Called on ``[features (B, T, D), targets (B, T, K)]`` it returns the teacher-forced
    conditional logits (B, T, K), float32 whatever the dtype policy, for
    :class:`musegen.models.losses.FrameNLL`.
    """

    def __init__(self, keys: int = 88, hidden: int = 128, **kwargs):
        super().__init__(**kwargs)
        self.keys = int(keys)
        self.hidden = int(hidden)

    def build(self, input_shape):
        """``input_shape`` is ``[features_shape (..., D), targets_shape (..., K)]``."""
        features_shape, targets_shape = input_shape
        if targets_shape[-1] is not None and targets_shape[-1] != self.keys:
            raise ValueError(f"NADEHead has {self.keys} keys; its targets have {targets_shape[-1]}.")
        k, h = self.keys, self.hidden
        self.conditioning_kernel = self.add_weight(
            name="conditioning_kernel", shape=(features_shape[-1], k + h), initializer="glorot_uniform"
        )
        self.conditioning_bias = self.add_weight(name="conditioning_bias", shape=(k + h,), initializer="zeros")
        self.w = self.add_weight(name="w", shape=(k, h), initializer="glorot_uniform")
        self.v = self.add_weight(name="v", shape=(k, h), initializer="glorot_uniform")

    def _weight(self, variable):
        return ops.cast(variable, self.compute_dtype)

    def conditioning(self, features):
        """The per-time biases ``(b (..., K), c (..., H))`` of ``features`` (B, D) or (B, T, D), compute dtype."""
        z = ops.matmul(ops.cast(features, self.compute_dtype), self._weight(self.conditioning_kernel))
        z = z + self._weight(self.conditioning_bias)
        return z[..., : self.keys], z[..., self.keys :]

    def call(self, inputs):
        """Teacher-forced: the conditional logits (B, T, K) float32 of every key given the target keys below it.

        ``inputs`` = ``[features (B, T, D), targets (B, T, K) float 0/1]``. All keys at once, by rank
        (see the module doc): the hidden layer of key k is that of its rank ``r_k`` (the count of keys
        on below it), so only the ranks 0..R-1 get one, R the most keys on in a frame plus one.
        Under XLA (which compiles no dynamic shape) the key-by-key form: one hidden layer per key.
        """
        features, targets = inputs
        b, c = self.conditioning(features)
        x = ops.cast(targets, self.compute_dtype)
        read = self._read_by_key if _in_xla() else self._read_by_rank
        logits = b + read(x, c)
        return ops.cast(logits, "float32")

    def _read_by_rank(self, x, c):
        """``V_k . h_k`` (B, T, K) from one hidden layer per rank: R = (most keys on in a frame) + 1 of them.

        ``rank[..., k]`` = keys on below k (an exclusive cumulative sum of ``x``); the hidden
        pre-activation of rank r is ``c + S_r``, ``S_r`` the sum of ``W_j`` over the first r keys on,
        one matmul of ``on[..., r, j] = x_j (rank_j < r)`` (B, T, R, K) with ``W``; the reads of every
        rank by every key are one matmul of the hidden layers with ``V``, and key k keeps its rank's.
        """
        rank = ops.cast(ops.cumsum(x, axis=-1) - x, "int32")  # (B, T, K): exact, at most K
        ranks = ops.arange(ops.max(rank) + 1, dtype="int32")[:, None]  # (R, 1): 0..R-1
        on = x[..., None, :] * ops.cast(rank[..., None, :] < ranks, x.dtype)  # (B, T, R, K): in S_r
        hidden = ops.sigmoid(ops.matmul(on, self._weight(self.w)) + c[..., None, :])  # (B, T, R, H)
        reads = ops.matmul(hidden, ops.transpose(self._weight(self.v)))  # (B, T, R, K): V_k . h(rank r)
        mine = ops.cast(rank[..., None, :] == ranks, reads.dtype)  # (B, T, R, K): 1 at r = rank_k
        return ops.sum(reads * mine, axis=-2)

    def _read_by_key(self, x, c):
        """``V_k . h_k`` (B, T, K) from one hidden layer per key, (B, T, K, H): the static-shape form.

        ``a[..., k, :] = c + sum_{j<k} x_j W_j`` as ONE matmul: x (..., K) @ M (K, K*H) with
        M[j, k*H:(k+1)*H] = W_j where j < k, else 0 (4x faster on a 2-core CPU than
        ``tf.math.cumsum`` over the key axis, backward pass included).
        """
        k, h = self.keys, self.hidden
        below = ops.triu(ops.ones((k, k), self.compute_dtype), 1)  # below[j, k] = 1 where j < k
        mask = ops.reshape(below[:, :, None] * self._weight(self.w)[:, None, :], (k, k * h))
        a = ops.reshape(ops.matmul(x, mask), (*ops.shape(x)[:-1], k, h)) + c[..., None, :]  # keys below k only
        return ops.sum(ops.sigmoid(a) * self._weight(self.v), axis=-1)  # V_k . h_k for every k

    def compute_output_spec(self, inputs):
        _, targets = inputs
        return keras.KerasTensor((*targets.shape[:-1], self.keys), dtype="float32")

    def sample(self, features, uniforms, temperature, top_k, allowed=None):
        """One frame per row, key by key, low to high, in TensorFlow ops: one compiled call per frame.

        ``features`` (B, D) float32; ``uniforms`` (B, K) float32 in [0, 1), drawn by the caller
        (numpy, so a frame is reproducible from a numpy seed): key k is on iff
        ``uniforms[:, k] < sigmoid(logit_k / temperature)``. ``temperature`` is a float32 scalar
        tensor; <= 0 means greedy, key k on iff ``logit_k > 0``. ``top_k`` is an int32 scalar
        tensor: 0 is no limit, else once ``top_k`` keys are on every key above is forced off.
        ``allowed`` (B, K) 0/1, when given, forces the keys it marks 0 off (sampling constraints: a key
        or a range); the keys above are then drawn given that it is off.
        The loop over keys is one ``fori_loop`` (so one XLA while loop, traced once per batch size
        under ``tf.function(jit_compile=True)``); its state is the hidden pre-activation ``a``
        (B, H), the count of keys on (B,) and the frame and logits written so far, column by column.

        Returns ``(frames (B, K) float32 0/1, logits (B, K) float32)``, the logits being the
        conditional logit of every key given the keys drawn below it, BEFORE temperature (what
        :meth:`call` gives on the drawn frame).
        """
        b, a = self.conditioning(features)  # a starts at c: no key decided yet
        b = ops.cast(b, "float32")
        uniforms = ops.cast(uniforms, "float32")
        temperature = ops.cast(temperature, "float32")
        greedy = temperature <= 0.0
        scale = ops.where(greedy, ops.ones_like(temperature), temperature)
        top_k = ops.cast(top_k, "int32")
        limit = ops.where(top_k > 0, top_k, self.keys + 1)  # never reached when there is no limit
        w, v = self._weight(self.w), self._weight(self.v)
        batch = ops.shape(uniforms)[0]
        allowed = ops.ones_like(uniforms) if allowed is None else ops.cast(allowed, "float32")

        def key(k, state):
            a, count, frames, logits = state
            read = ops.sum(ops.sigmoid(a) * ops.take(v, k, axis=0), axis=-1)  # V_k . h_k
            logit = ops.take(b, k, axis=1) + ops.cast(read, "float32")
            uniform = ops.take(uniforms, k, axis=1)
            drawn = ops.where(greedy, logit > 0.0, uniform < ops.sigmoid(logit / scale))
            on = ops.logical_and(ops.logical_and(drawn, count < limit), ops.take(allowed, k, axis=1) > 0.5)
            x = ops.cast(on, a.dtype)
            here = ops.one_hot(k, self.keys, dtype="float32")[None, :]  # writes column k
            return (
                a + x[:, None] * ops.take(w, k, axis=0),
                count + ops.cast(on, "int32"),
                frames + ops.cast(on, "float32")[:, None] * here,
                logits + logit[:, None] * here,
            )

        empty = ops.zeros((batch, self.keys), "float32")
        state = (a, ops.zeros((batch,), "int32"), empty, empty)
        _, _, frames, logits = ops.fori_loop(0, self.keys, key, state)
        return frames, logits

    def get_config(self):
        return {**super().get_config(), "keys": self.keys, "hidden": self.hidden}


def has_nade_head(model: keras.Model) -> bool:
    """Whether ``model`` is a piano-roll model with the NADE head (its input carries the target frame)."""
    return any(isinstance(layer, NADEHead) for layer in model.layers)
