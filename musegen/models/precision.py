"""Mixed precision: train in 16 bits where the hardware is fast at it, run everything else in float32.

``TrainConfig.precision`` names a Keras dtype policy. Under ``mixed_float16`` (GPUs with tensor
cores) or ``mixed_bfloat16`` (TPUs, recent CPUs) the layers compute in 16 bits while the variables
stay float32; the output logits are float32 in every musegen model (``sequence.logits_head``, the
NADE head, the classic softmax), so the softmax and the loss are exact. Under ``mixed_float16``
``model.compile`` wraps the optimizer in Keras' ``LossScaleOptimizer`` (dynamic loss scaling), and
``model.train_step`` scales the loss, so ``fit`` and musegen's distributed step both get it.

The policy is set only while a model is built (:func:`policy`), so nothing else in the process
changes. A model trained in mixed precision is loaded for inference as a float32 copy with the
same weights (:func:`to_float32`): generation and scoring then give the same numbers on any
machine, and a CPU never runs float16 kernels.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import keras


@contextmanager
def policy(name: str) -> Iterator[None]:
    """Keras' global dtype policy ``name`` while the block runs (layers take it when constructed)."""
    before = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(before)


def is_mixed(model: Any) -> bool:
    """True when some layer of ``model`` computes in 16 bits."""
    return any(_computes_in_16_bits(layer) for layer in _layers(model))


def to_float32(model: Any) -> Any:
    """A float32 copy of ``model`` with the same weights (``model`` itself when it is float32 already)."""
    if not is_mixed(model):
        return model

    def rebuilt(layer: Any) -> Any:
        config = layer.get_config()
        if "dtype" in config:
            config["dtype"] = "float32"
        return layer.__class__.from_config(config)

    with policy("float32"):
        copy = keras.models.clone_model(model, clone_function=rebuilt)
    copy.set_weights(model.get_weights())
    return copy


def _layers(model: Any) -> list[Any]:
    return [layer for layer in model._flatten_layers(include_self=False)]


def _computes_in_16_bits(layer: Any) -> bool:
    policy_ = getattr(layer, "dtype_policy", None)
    return policy_ is not None and str(getattr(policy_, "compute_dtype", "float32")) in ("float16", "bfloat16")
