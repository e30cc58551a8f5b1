"""Model registry: build, load and describe musegen's four architectures.

- ``wavenet`` / ``lstm``: int32 token ids (B, T), any T -> next-token logits (B, T, V) float32,
  causal (position t sees tokens <= t). Train with ``SparseCategoricalCrossentropy(from_logits=True)``
  and sample weights that mask pad targets (pad id 0).
- piano-roll ``wavenet`` / ``lstm`` (:func:`build_frame_model`): float32 multi-hot frames (B, T, 88) ->
  per-key logits (B, T, 88), the same backbones behind a Dense adapter; train with
  :class:`~musegen.models.losses.FrameNLL` (sum over keys of the binary cross-entropy).
- ``classic-wavenet`` / ``classic-lstm``: the tutorial's models, float32 ``index / n_vocab`` of
  shape (B, window, 1) -> softmax probabilities (B, V) for the one next event.

Importing this package imports Keras (and so TensorFlow): UI code imports it lazily.
"""

# ruff: noqa: E402  (TensorFlow is imported quietly, below, before Keras imports it)
from __future__ import annotations

import logging
from pathlib import Path

from musegen.tf_setup import import_tensorflow

import_tensorflow()  # before Keras loads it: TensorFlow's start-up chatter stays off the terminal

import keras

from musegen.config import ModelConfig
from musegen.errors import ConfigError, ModelLoadError
from musegen.modelfile import check_model_file
from musegen.models import layers as _layers  # registers the custom layers
from musegen.models.classic import build_classic_lstm, build_classic_wavenet
from musegen.models.losses import FrameNLL
from musegen.models.lstm import build_lstm, recurrent_stack
from musegen.models.sequence import build_sequence_model, frame_adapter, frame_input, logits_head
from musegen.models.wavenet import build_wavenet, wavenet_stack
from musegen.tf_setup import configure_tensorflow

log = logging.getLogger(__name__)

CLASSIC_ARCHS = ("classic-wavenet", "classic-lstm")

__all__ = [
    "CLASSIC_ARCHS",
    "FrameNLL",
    "build_frame_model",
    "build_model",
    "is_classic",
    "load_model",
    "model_summary",
    "receptive_field",
]


def is_classic(arch: str) -> bool:
    """True for the tutorial's one-target-per-window models (scalar input, softmax output)."""
    return arch in CLASSIC_ARCHS


def build_model(model_cfg: ModelConfig, vocab_size: int, window: int) -> keras.Model:
    """A fresh, uncompiled model of ``model_cfg.arch`` for ``vocab_size`` tokens and ``window`` context."""
    model_cfg.validate()
    if vocab_size < 2:
        raise ConfigError(f"the vocabulary needs at least 2 tokens, got {vocab_size}; check the dataset.")
    configure_tensorflow()
    arch = model_cfg.arch
    if arch == "wavenet":
        rf = model_cfg.receptive_field()
        if rf < window:
            log.warning("WaveNet receptive field %d < window %d: raise dilation_cycle or stacks.", rf, window)
        return build_wavenet(model_cfg, vocab_size)
    if arch == "lstm":
        return build_lstm(model_cfg, vocab_size)
    if arch == "classic-wavenet":
        return build_classic_wavenet(vocab_size, window)
    return build_classic_lstm(vocab_size, window)


def build_frame_model(model_cfg: ModelConfig, keys: int = 88) -> keras.Model:
    """A fresh, uncompiled piano-roll model: frames (B, T, keys) -> per-key logits (B, T, keys), causal.

    Dense adapter (``embed_dim`` features per frame) -> the WaveNet or LSTM backbone of
    ``model_cfg`` -> Dense(keys) logits. Only ``wavenet`` and ``lstm`` read frames.
    """
    model_cfg.validate()
    if model_cfg.arch not in ("wavenet", "lstm"):
        raise ConfigError(
            f"{model_cfg.arch} reads the tutorial's classic tokens, not piano-roll frames; choose wavenet or lstm, "
            "or the classic representation."
        )
    configure_tensorflow()
    backbone = wavenet_stack(model_cfg) if model_cfg.arch == "wavenet" else recurrent_stack(model_cfg)
    adapter = frame_adapter(model_cfg.embed_dim)
    return build_sequence_model(frame_input(keys), adapter, backbone, logits_head(keys), model_cfg.arch)


def load_model(path: str | Path, *, compile: bool = False) -> keras.Model:
    """Load a ``.keras`` model with ``safe_mode=True``; any failure becomes :class:`ModelLoadError`."""
    p = check_model_file(path)  # before anything costly
    configure_tensorflow()
    try:
        model = keras.saving.load_model(p, compile=compile, safe_mode=True)
    # Keras raises a wide, undocumented range of errors on broken or foreign archives (ValueError
    # for a refused Lambda, TypeError for unknown classes, OSError from h5py, KeyError...). All of
    # them mean "this file cannot be used"; the cause stays chained for debugging.
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        hint = (
            " It contains a Lambda layer (arbitrary code), which musegen refuses to run."
            if "lambda" in str(exc).lower()
            else ""
        )
        raise ModelLoadError(
            f"Could not load the model {p}: {reason}.{hint} Only models trained by musegen can be loaded; "
            "retrain the model or pick another run."
        ) from exc
    if not isinstance(model, keras.Model) or len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ModelLoadError(f"{p} is a Keras model but not a musegen model (one input, one output). Retrain it.")
    return model


def receptive_field(model: keras.Model) -> int | None:
    """Tokens of context of a model's WaveNet stack, or None when it has none."""
    for layer in model.layers:
        if isinstance(layer, _layers.WaveNetStack):
            return layer.receptive_field
    return None


def _shape(layer) -> str:
    try:
        return str(tuple(layer.output.shape))
    except (AttributeError, ValueError):  # a nested layer called on several inputs has no single output
        return "-"


def model_summary(model: keras.Model, window: int | None = None) -> str:
    """A plain-text layer table plus the WaveNet's dilations and receptive field (warned if < window)."""
    lines = [f"Model {model.name!r}: {model.count_params():,} parameters", f"{'layer':<28}{'output shape':<24}params"]
    for layer in model.layers:
        lines.append(f"{layer.name + ' (' + type(layer).__name__ + ')':<28}{_shape(layer):<24}{layer.count_params():,}")
    for layer in model.layers:
        if isinstance(layer, _layers.WaveNetStack):
            rf = layer.receptive_field
            lines.append(
                f"WaveNet: kernel {layer.kernel_size}, dilations {layer.dilations}, "
                f"{layer.channels} residual / {layer.skip_channels} skip channels, gated tanh x sigmoid units"
            )
            lines.append(f"Receptive field: {rf} tokens")
            if window is not None and rf < window:
                lines.append(f"WARNING: receptive field {rf} < window {window}; raise dilation_cycle or stacks.")
        elif isinstance(layer, _layers.RecurrentStack):
            lines.append(f"LSTM: {layer.num_layers} x {layer.units} units, dropout {layer.dropout}")
    return "\n".join(lines)
