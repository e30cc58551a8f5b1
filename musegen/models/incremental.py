"""Fast incremental decoding: one compiled step per generated token, no ``model.predict``.

- WaveNet: every causal convolution keeps its last (k-1)*d inputs (the per-layer queues of
  Paine et al. 2016, "Fast Wavenet Generation Algorithm"); a step costs one dilated tap per
  layer instead of recomputing the receptive field.
- LSTM: a stateful step through the trained cells, carrying (h, c) of every layer.
- Transformer: every layer keeps the rotated keys and the values of the last ``attention_span``
  positions in a fixed-size buffer, plus a position counter (a sliding cache; see
  :mod:`musegen.models.transformer`); a step is one query per layer against its buffer.
- piano-roll models with the NADE head (:class:`NadeStepper`): the backbone steps as above; the
  keys of each new frame are drawn low to high inside one compiled call of the head's
  ``sample`` (each key given the keys already drawn), so a frame costs two compiled calls.
- classic models (one softmax per window, no incremental form): a compiled call on the sliding
  window, still not ``model.predict``.

Steps are XLA-compiled (``jit_compile=True``; shapes are fixed per batch size), with a plain
``tf.function`` as the fallback where XLA is unavailable. The compiled functions are cached on
the model per batch size, so only the first generation pays for compiling; the decoding state
lives in each :class:`Stepper`, so concurrent generations on one model do not interfere.

A stepper holds a batch of B sequences: ``prime(ids (B, T))`` feeds the seed and returns the
next-token logits (B, V); ``step(ids (B,))`` appends one token per sequence and returns the
next logits. The result equals the full forward pass ``model(x)[:, t]`` (tested), beyond the Transformer's span too.
"""

from __future__ import annotations

import logging
import threading

import keras
import numpy as np
import tensorflow as tf

from musegen.config import SamplingConfig
from musegen.errors import ModelLoadError, TrainingError
from musegen.models.layers import KeySlice, RecurrentStack, WaveNetStack
from musegen.models.nade import NADEHead, has_nade_head
from musegen.models.transformer import TransformerStack
from musegen.vocabulary import PAD_ID

log = logging.getLogger(__name__)
_PROBE_STEPS = 5
_CACHE_ATTR = "_musegen_decoders"  # set with object.__setattr__, outside Keras' tracking and saving
_cache_lock = threading.Lock()
BACKBONES = (WaveNetStack, RecurrentStack, TransformerStack)  # layers with call_with_state and step


class _Compiled:
    """``fn`` as an XLA-compiled ``tf.function`` (about 4x faster WaveNet steps on CPU), or plain."""

    def __init__(self, fn):
        self._fn = tf.function(fn, jit_compile=True)
        self._plain = tf.function(fn, reduce_retracing=True)
        self._xla = True

    def __call__(self, *args):
        if self._xla:
            try:
                return self._fn(*args)
            except (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError, tf.errors.InternalError) as exc:
                log.warning("XLA could not compile the decoding step (%s); using the plain compiled step.", exc)
                self._xla = False
        return self._plain(*args)


def _apply(layers, x):
    for layer in layers:
        x = layer(x, training=False)
    return x


class _ChainDecoder:
    """Compiled prime and step functions of an adapter -> backbone -> head model (stateless)."""

    def __init__(self, model: keras.Model):
        chain = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
        cores = [i for i, layer in enumerate(chain) if isinstance(layer, BACKBONES)]
        if len(cores) != 1:
            raise ModelLoadError(
                f"model {model.name!r} has no single WaveNet, LSTM or Transformer stack to decode step by step."
            )
        self.pre, self.core, self.post = chain[: cores[0]], chain[cores[0]], chain[cores[0] + 1 :]
        self.input_dtype = model.inputs[0].dtype
        self.frame_shape = tuple(model.inputs[0].shape[2:])  # () for token ids
        # applying the layers one after another must reproduce the model (it is a plain chain)
        probe = np.zeros((1, _PROBE_STEPS, *self.frame_shape), dtype=self.input_dtype)
        chained = _apply(self.post, self.core(_apply(self.pre, probe), training=False))
        whole = np.asarray(model(probe, training=False))
        if not np.isfinite(whole).all():  # NaN or infinite weights: no chain reproduces them
            raise ModelLoadError(
                f"model {model.name!r} has weights that are not finite numbers (NaN or infinity): the file is "
                "damaged or its training diverged. Retrain the model or use the run's other checkpoint."
            )
        if not np.allclose(np.asarray(chained), whole, atol=1e-5):
            raise ModelLoadError(f"model {model.name!r} is not an adapter -> stack -> head chain.")
        self.prime = tf.function(self._prime, reduce_retracing=True)  # seeds vary in length: no XLA
        self.step = _Compiled(self._step)

    def _prime(self, ids):
        features, state = self.core.call_with_state(_apply(self.pre, ids))
        return _apply(self.post, features[:, -1:])[:, 0], state

    def _step(self, ids, state):
        features, state = self.core.step(_apply(self.pre, tf.expand_dims(ids, 1)), state)
        return _apply(self.post, features)[:, 0], state


def _cached(model: keras.Model, key: str, build):
    """One compiled decoder per model and key, kept on the model (it dies with the model)."""
    with _cache_lock:
        cache = model.__dict__.get(_CACHE_ATTR)
        if cache is None:
            cache = {}
            object.__setattr__(model, _CACHE_ATTR, cache)
        if key not in cache:
            cache[key] = build()
        return cache[key]


class Stepper:
    """Incremental decoder for a many-to-many model built as adapter -> backbone -> head."""

    def __init__(self, model: keras.Model, batch_size: int):
        self.batch_size = int(batch_size)
        self._decoder: _ChainDecoder = _cached(model, "chain", lambda: _ChainDecoder(model))
        self._state: list[tf.Tensor] | None = None

    def prime(self, ids: np.ndarray) -> np.ndarray:
        """Feed the seed ``ids`` (B, T), T >= 1; return logits (B, V) for the token after it."""
        ids = np.asarray(ids, dtype=self._decoder.input_dtype)
        frame = self._decoder.frame_shape  # () for token ids, (keys,) for frames
        if ids.ndim != 2 + len(frame) or ids.shape[0] != self.batch_size or ids.shape[1] < 1:
            want = ", ".join([str(self.batch_size), "T >= 1", *map(str, frame)])
            raise ValueError(f"prime expects ({want}) ids, got shape {ids.shape}.")
        logits, self._state = self._decoder.prime(tf.convert_to_tensor(ids))
        return logits.numpy()

    def step(self, ids: np.ndarray) -> np.ndarray:
        """Append one token per sequence (B,); return logits (B, V) for the next one."""
        if self._state is None:
            raise RuntimeError("call prime() with a seed before step().")
        ids = np.asarray(ids, dtype=self._decoder.input_dtype).reshape(self.batch_size, *self._decoder.frame_shape)
        logits, self._state = self._decoder.step(tf.convert_to_tensor(ids), self._state)
        return logits.numpy()


class _NadeDecoder(_ChainDecoder):
    """The chain decoder's prime and step on context -> adapter -> backbone of a NADE model (their
    "logits" are the backbone's features), plus the head's compiled key-by-key ``draw``."""

    def __init__(self, model: keras.Model):  # not a plain chain (the head reads the target frame): no probe
        heads = [layer for layer in model.layers if isinstance(layer, NADEHead)]
        cores = [layer for layer in model.layers if isinstance(layer, BACKBONES)]
        if len(heads) != 1 or len(cores) != 1:
            raise ModelLoadError(f"model {model.name!r} is not a backbone with one NADE head.")
        self.head, self.core, self.post = heads[0], cores[0], []
        skip = (keras.layers.InputLayer, KeySlice, NADEHead, *BACKBONES)
        self.pre = [layer for layer in model.layers if not isinstance(layer, skip)]  # the frame adapter
        self.keys = self.head.keys
        self.input_dtype, self.frame_shape = np.float32, (self.keys,)  # the context frame, without the target
        self.prime = tf.function(self._prime, reduce_retracing=True)
        self.step = _Compiled(self._step)
        self.draw = _Compiled(self.head.sample)


class NadeStepper(Stepper):
    """Incremental decoder of a piano-roll model with the NADE head.

    ``prime(frames (B, T, 88))`` and ``step(frame (B, 88))`` return the backbone's features for the
    next frame; :meth:`draw` turns them into that frame, key by key in one compiled call, and keeps
    the conditional logits it drew from in ``last_logits`` (B, 88) (equal to the full forward pass
    on the drawn frame: tested).
    """

    def __init__(self, model: keras.Model, batch_size: int):
        self.batch_size = int(batch_size)
        self._decoder: _NadeDecoder = _cached(model, "nade", lambda: _NadeDecoder(model))
        self._state: list[tf.Tensor] | None = None
        self.last_logits: np.ndarray | None = None

    def draw(
        self, features: np.ndarray, cfg: SamplingConfig, rng: np.random.Generator, allowed: np.ndarray | None = None
    ) -> np.ndarray:
        """The next frame of every row (uint8 (B, 88)) from ``features``: keys drawn low to high.

        Temperature divides each conditional logit; greedy (or temperature 0) sounds a key when its
        conditional probability is above one half; ``top_k`` > 0 lets at most k keys sound (the
        lowest k that are drawn); ``top_p`` does not apply to keys and is ignored. ``allowed`` (B, 88) 0/1
        forces the keys it marks 0 off (the keys above are drawn given that).
        """
        uniforms = rng.random((self.batch_size, self._decoder.keys)).astype(np.float32)
        temperature = 0.0 if cfg.greedy else float(cfg.temperature)
        mask = np.ones_like(uniforms) if allowed is None else np.broadcast_to(allowed, uniforms.shape)
        frames, logits = self._decoder.draw(
            tf.convert_to_tensor(features, tf.float32),
            tf.convert_to_tensor(uniforms),
            tf.constant(temperature, tf.float32),
            tf.constant(int(cfg.top_k), tf.int32),
            tf.convert_to_tensor(mask, tf.float32),
        )
        self.last_logits = logits.numpy()
        if np.isnan(self.last_logits).any():
            raise TrainingError("the model produced NaN scores; it has diverged. Retrain with a lower learning rate.")
        return frames.numpy().astype(np.uint8)


class ClassicStepper:
    """Sliding-window decoder for the tutorial's models: (B, window, 1) ``id / n_vocab`` -> (B, V).

    Returns log-probabilities as "logits" (softmax of them gives back the model's probabilities).
    A seed shorter than the window is left-padded with ``pad_id``.
    """

    def __init__(self, model: keras.Model, batch_size: int, pad_id: int = PAD_ID):
        self.batch_size = int(batch_size)
        self.window = int(model.inputs[0].shape[1])
        self.n_vocab = int(model.outputs[0].shape[-1])
        self.pad_id = pad_id
        self._ids = np.full((self.batch_size, self.window), pad_id, dtype=np.int64)
        self._call = _cached(model, "window", lambda: _Compiled(lambda x: model(x, training=False)))

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


def compiled_forward(model: keras.Model):
    """``model(x, training=False)`` as a compiled ``tf.function`` (cached on the model), for scoring.

    Calling a Keras model eagerly runs a recurrent layer step by step from Python: a 4,500-frame
    piece through the JSB benchmark's LSTM took 115 s eagerly and 3 s compiled. Shapes vary from
    batch to batch, so the function is traced with ``reduce_retracing`` (no XLA).
    """
    return _cached(model, "forward", lambda: tf.function(lambda x: model(x, training=False), reduce_retracing=True))


def is_sequence_model(model: keras.Model) -> bool:
    """Many-to-many (B, T, ...) output, as opposed to the classic one-target (B, V) output."""
    return len(model.outputs[0].shape) == 3


def make_stepper(model: keras.Model, batch_size: int, pad_id: int = PAD_ID) -> Stepper | NadeStepper | ClassicStepper:
    """The fastest decoder available for ``model`` and a batch of ``batch_size`` sequences."""
    if has_nade_head(model):
        return NadeStepper(model, batch_size)
    if is_sequence_model(model):
        return Stepper(model, batch_size)
    return ClassicStepper(model, batch_size, pad_id=pad_id)
