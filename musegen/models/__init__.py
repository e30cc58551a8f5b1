"""Model registry: build, load and describe musegen's five architectures.

- ``wavenet`` / ``lstm`` / ``transformer``: int32 token ids (B, T), any T -> next-token logits
  (B, T, V) float32, causal (position t sees tokens <= t; the Transformer the last
  ``attention_span`` of them). Train with ``SparseCategoricalCrossentropy(from_logits=True)``
  and sample weights that mask pad targets (pad id 0).
- piano-roll ``wavenet`` / ``lstm`` / ``transformer`` (:func:`build_frame_model`): float32 multi-hot
  frames (B, T, 88) -> per-key logits (B, T, 88), the same backbones behind a Dense adapter; train
  with :class:`~musegen.models.losses.FrameNLL` (sum over keys of the binary cross-entropy).
  With the NADE head (``ModelConfig.head == "nade"``) the input is (B, T, 176): frame t and, for
  teacher forcing, frame t + 1; the logits are the NADE's conditionals of frame t + 1's keys, each
  given the keys below it (:mod:`musegen.models.nade`), so the same FrameNLL is its exact NLL.
- ``classic-wavenet`` / ``classic-lstm``: the tutorial's models, float32 ``index / n_vocab`` of
  shape (B, window, 1) -> softmax probabilities (B, V) for the one next event.

Importing this package imports Keras (and so TensorFlow): UI code imports it lazily.
"""

# ruff: noqa: E402  (TensorFlow is imported quietly, below, before Keras imports it)
from __future__ import annotations

import logging
import warnings
from pathlib import Path

from musegen.tf_setup import import_tensorflow

import_tensorflow()  # before Keras loads it: TensorFlow's start-up chatter stays off the terminal

import keras

from musegen.config import CLASSIC_ARCHS, ModelConfig
from musegen.errors import ConfigError, ModelLoadError
from musegen.modelfile import check_model_file
from musegen.models import layers as _layers  # registers the custom layers
from musegen.models import precision
from musegen.models.classic import build_classic_lstm, build_classic_wavenet
from musegen.models.losses import FrameNLL
from musegen.models.lstm import build_lstm, recurrent_stack
from musegen.models.nade import NADEHead, has_nade_head
from musegen.models.sequence import build_sequence_model, frame_adapter, frame_input, logits_head
from musegen.models.transformer import TransformerStack, build_transformer, transformer_stack
from musegen.models.wavenet import build_wavenet, wavenet_stack
from musegen.tf_setup import configure_tensorflow

log = logging.getLogger(__name__)


__all__ = [
    "CLASSIC_ARCHS",
    "FrameNLL",
    "build_frame_model",
    "build_model",
    "has_nade_head",
    "is_classic",
    "load_model",
    "model_summary",
    "receptive_field",
]


def is_classic(arch: str) -> bool:
    """True for the tutorial's one-target-per-window models (scalar input, softmax output)."""
    return ModelConfig(arch=arch).is_classic


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
    if arch == "transformer":
        return build_transformer(model_cfg, vocab_size, window)
    if arch == "classic-wavenet":
        return build_classic_wavenet(vocab_size, window)
    return build_classic_lstm(vocab_size, window)


FRAME_ARCHS = ("wavenet", "lstm", "transformer")  # the backbones that read piano-roll frames


def build_frame_model(model_cfg: ModelConfig, keys: int = 88, window: int | None = None) -> keras.Model:
    """A fresh, uncompiled piano-roll model: frames (B, T, keys) -> per-key logits (B, T, keys), causal.

    Dense adapter (``embed_dim`` features per frame) -> the WaveNet, LSTM or Transformer backbone
    of ``model_cfg`` -> Dense(keys) logits, or with ``model_cfg.head == "nade"`` the NADE head
    (input (B, T, 2 * keys): the context frame and the target frame; see the module doc).
    ``window`` (the training window, in frames) is the Transformer's attention span unless
    ``model_cfg.attention_span`` sets one; without either it is ``DataConfig.window``.
    """
    model_cfg.validate()
    if model_cfg.arch not in FRAME_ARCHS:
        raise ConfigError(
            f"{model_cfg.arch} reads the tutorial's classic tokens, not piano-roll frames; choose wavenet, lstm or "
            "transformer, or the classic representation."
        )
    configure_tensorflow()
    if model_cfg.arch == "transformer":
        backbone = transformer_stack(model_cfg, window)
    else:
        backbone = wavenet_stack(model_cfg) if model_cfg.arch == "wavenet" else recurrent_stack(model_cfg)
    adapter = frame_adapter(model_cfg.embed_dim)
    if model_cfg.head == "nade":
        frames = frame_input(2 * keys)
        context = _layers.KeySlice(0, keys, name="context")(frames)
        target = _layers.KeySlice(keys, 2 * keys, name="target")(frames)
        logits = NADEHead(keys, model_cfg.nade_hidden, name="nade")([backbone(adapter(context)), target])
        return keras.Model(frames, logits, name=f"{model_cfg.arch}-nade")
    return build_sequence_model(frame_input(keys), adapter, backbone, logits_head(keys), model_cfg.arch)


def load_model(path: str | Path, *, compile: bool = False) -> keras.Model:
    """Load a ``.keras`` model with ``safe_mode=True``; any failure becomes :class:`ModelLoadError`."""
    p = check_model_file(path)  # before anything costly
    configure_tensorflow()
    try:
        with warnings.catch_warnings(record=True) as said:  # Keras warns before it fails on crafted weights
            warnings.simplefilter("always")
            model = keras.saving.load_model(p, compile=compile, safe_mode=True)
        _refuse_unloaded_weights(p, said)
    except ModelLoadError:
        raise
    # Keras raises a wide, undocumented range of errors on broken or foreign archives (ValueError
    # for a refused Lambda, TypeError for unknown classes, OSError from h5py, KeyError...). All of
    # them mean "this file cannot be used"; the cause stays chained for debugging.
    except Exception as exc:
        reason = _reason(exc)
        hint = (
            " It contains a Lambda layer (arbitrary code), which musegen refuses to run."
            if "lambda" in str(exc).lower()
            else ""
        )
        raise ModelLoadError(
            f"Could not load the model {p}: {reason}{hint} Only models trained by musegen can be loaded; "
            "retrain the model or pick another run."
        ) from exc
    if not isinstance(model, keras.Model) or len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ModelLoadError(f"{p} is a Keras model but not a musegen model (one input, one output). Retrain it.")
    # trained in mixed precision: inference runs a float32 copy (the same weights, the same numbers everywhere)
    return model if compile else precision.to_float32(model)


def _refuse_unloaded_weights(path: Path, said: list[warnings.WarningMessage]) -> None:
    """A model whose weights Keras skipped (its warnings say so) would compose noise: refused; other
    warnings are passed on."""
    for w in said:
        text = str(w.message)
        if "could not be loaded" in text or ("expected" in text and "variables" in text):
            first = text.strip().splitlines()[0][:_REASON_CHARS].rstrip(". ")
            raise ModelLoadError(
                f"Could not load the model {path}: its weights do not fit its layers ({first}). Only models trained "
                "by musegen can be loaded; retrain the model or pick another run."
            )
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


_REASON_CHARS = 400  # of a Keras error shown in a message


def _reason(exc: BaseException) -> str:
    """The informative part of a Keras error, on one line, ending with a full stop.

    Keras often puts the reason after an introduction ("A total of 1 objects could not be loaded.
    Example error message for object <Embedding ...>:" then "Not allowed: H5 file with external
    Dataset ..."), and a list of every object after it: the lines up to that list are joined and
    cut to a few hundred characters, so the reason is never lost to a first line.
    """
    text = str(exc).split("List of objects that could not be loaded", 1)[0]
    reason = " ".join(line.strip() for line in text.splitlines() if line.strip())
    if not reason:
        return f"{type(exc).__name__}."
    if len(reason) > _REASON_CHARS:
        reason = reason[: _REASON_CHARS - 3].rstrip() + "..."
    return reason if reason.endswith((".", "...")) else reason + "."


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
    """A plain-text layer table plus the backbone's shape: the WaveNet's dilations and receptive field
    (warned if < window), the LSTM's layers, the Transformer's blocks and attention span."""
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
        elif isinstance(layer, TransformerStack):
            lines.append(
                f"Transformer: {layer.num_layers} pre-LayerNorm blocks of width {layer.d_model}, {layer.heads} heads, "
                f"feed-forward {layer.ff_mult * layer.d_model}, rotary positions, dropout {layer.dropout}"
            )
            lines.append(f"Attention span and generation cache: the last {layer.span} steps")
        elif isinstance(layer, NADEHead):
            lines.append(
                f"NADE head: the {layer.keys} keys of a frame drawn low to high, each given the keys below it "
                f"({layer.hidden} hidden units)"
            )
    return "\n".join(lines)
