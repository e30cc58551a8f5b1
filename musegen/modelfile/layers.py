"""The model's config.json, walked without recursion: the model class, every layer's class, their
sizes against the limits of :meth:`musegen.config.ModelConfig.validate`, every shape, and an estimate
of the parameters from above (see :mod:`musegen.modelfile`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from musegen.errors import ModelLoadError
from musegen.modelfile.limits import (
    _RETRAIN,
    KERAS_LAYERS,
    MAX_DILATION,
    MAX_DILATIONS,
    MAX_DIM,
    MAX_FF_MULT,
    MAX_HEADS,
    MAX_INBOUND_NODES,
    MAX_JSON_NODES,
    MAX_KERNEL,
    MAX_LAYERS,
    MAX_PARAMETERS,
    MAX_RECURRENT_LAYERS,
    MAX_SPAN,
    MAX_TRANSFORMER_LAYERS,
    MAX_VOCAB,
    MAX_WIDTH,
    MODEL_CLASSES,
    MUSEGEN_LAYERS,
)

__all__ = ["check_model_config", "estimate_parameters"]


_RATE_KEYS = ("dropout", "rate", "recurrent_dropout")


def check_model_config(config: Any) -> int:
    """Check a parsed ``config.json`` (see the module doc); return the estimated parameter count.

    Raises ModelLoadError naming the first thing over a limit; never recurses.
    """
    if not isinstance(config, dict):
        raise ModelLoadError(f"config.json is not a model configuration (a {type(config).__name__}). {_RETRAIN}")
    _check_nodes(config)
    cls = config.get("class_name")
    if cls not in MODEL_CLASSES:
        raise ModelLoadError(f"it is a Keras {cls!r}, not one of musegen's models (Functional). {_RETRAIN}")
    body = config.get("config")
    layers = body.get("layers") if isinstance(body, dict) else None
    if not isinstance(layers, list) or not layers:
        raise ModelLoadError(f"config.json lists no layers. {_RETRAIN}")
    if len(layers) > MAX_LAYERS:
        raise ModelLoadError(
            f"the model has {len(layers):,} layers, over the limit of {MAX_LAYERS} (musegen's have at most 13). "
            f"{_RETRAIN}"
        )
    return estimate_parameters(layers)


def _check_nodes(config: dict[str, Any]) -> None:
    """Every value of the config: a node count, and every shape's dimensions. Iterative."""
    stack: list[Any] = [config]
    nodes = 0
    while stack:
        value = stack.pop()
        nodes += 1
        if nodes > MAX_JSON_NODES:
            raise ModelLoadError(f"config.json holds more than {MAX_JSON_NODES:,} values. {_RETRAIN}")
        if isinstance(value, dict):
            for key, item in value.items():
                if key in ("batch_shape", "input_shape", "shape", "batch_input_shape"):
                    _check_shape(key, item)
                stack.append(item)
        elif isinstance(value, list):
            stack.extend(value)


def _check_shape(key: str, shape: Any) -> None:
    for dim in _flatten(shape):
        if dim is None:
            continue
        if not _is_int(dim) or not 0 <= dim <= MAX_DIM:
            raise ModelLoadError(
                f"a layer's {key} has the dimension {dim!r}; musegen allows whole numbers up to {MAX_DIM:,}. {_RETRAIN}"
            )


def _flatten(value: Any) -> Iterator[Any]:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, list | tuple):
            stack.extend(item)
        elif isinstance(item, dict):  # a nested shape object: its values
            stack.extend(item.values())
        else:
            yield item


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _size(layer: str, cfg: dict[str, Any], key: str, high: int, low: int = 1) -> int:
    value = cfg.get(key)
    if isinstance(value, list) and len(value) == 1:  # Keras writes kernel_size, strides... as [n]
        value = value[0]
    if not _is_int(value) or not low <= value <= high:
        raise ModelLoadError(
            f"its {layer} layer has {key} = {_short(value)}; musegen builds {key} from {low} to {high:,}. {_RETRAIN}"
        )
    return value


def _check_rates(layer: str, cfg: dict[str, Any]) -> None:
    """A dropout rate is a number from 0 to below 1 (Keras's own refusal is its deserialisation text)."""
    for key in _RATE_KEYS:
        value = cfg.get(key, 0.0)
        if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value < 1:
            raise ModelLoadError(
                f"its {layer} layer has {key} = {_short(value)}; a dropout rate is a number from 0 to below 1. "
                f"{_RETRAIN}"
            )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _last_dim(cfg: dict[str, Any]) -> int:
    build = cfg.get("build_config")
    shape = build.get("input_shape") if isinstance(build, dict) else None
    if isinstance(shape, list) and shape and _is_int(shape[-1]):
        return shape[-1]
    return 0


def estimate_parameters(layers: list[Any]) -> int:
    """Check each layer's class and sizes; return the model's parameters, estimated from above.

    A layer's input width is taken as the widest output of the layers before it (or its build
    shape, if wider), so a graph that routes a wide layer elsewhere is still counted.
    """
    total, widest = 0, 0
    for entry in layers:
        if not isinstance(entry, dict) or not isinstance(entry.get("config"), dict):
            raise ModelLoadError(f"config.json has a layer entry that is not a layer ({_short(entry)}). {_RETRAIN}")
        cls, cfg = entry.get("class_name"), entry["config"]
        _check_class(cls, entry.get("registered_name"), entry.get("module"))
        inbound = entry.get("inbound_nodes", [])
        if isinstance(inbound, list) and len(inbound) > MAX_INBOUND_NODES:
            raise ModelLoadError(
                f"its {cls} layer is called {len(inbound):,} times (musegen calls each layer once). {_RETRAIN}"
            )
        width_in = max(widest, _last_dim(entry))
        params, width_out = _layer_parameters(cls, cfg, width_in)
        total += params
        if total > MAX_PARAMETERS:
            raise ModelLoadError(
                f"the model would have more than {MAX_PARAMETERS / 1e6:.0f} M parameters (at its {cls} layer), over "
                f"musegen's limit: it is not a model musegen trains (its presets have a few million). {_RETRAIN}"
            )
        widest = max(widest, width_out)
    return total


def _check_class(cls: Any, registered: Any, module: Any) -> None:
    if cls in MUSEGEN_LAYERS and registered == f"musegen>{cls}":
        return
    if cls in KERAS_LAYERS and registered in (None, cls) and (module is None or str(module).startswith("keras")):
        return
    if cls == "Lambda":
        raise ModelLoadError(f"It contains a Lambda layer (arbitrary code), which musegen refuses to run. {_RETRAIN}")
    name = registered if isinstance(registered, str) and registered else cls
    where = f" from the module {_short(module)}" if module and not str(module).startswith(("keras", "musegen")) else ""
    raise ModelLoadError(
        f"it contains a layer of class {_short(name)}{where}, which musegen does not build (its models use "
        f"{', '.join(KERAS_LAYERS + MUSEGEN_LAYERS)}). {_RETRAIN}"
    )


def _layer_parameters(cls: str, cfg: dict[str, Any], width_in: int) -> tuple[int, int]:
    """(parameters, output width) of one layer of class ``cls`` with config ``cfg``, sizes checked."""
    _check_rates(cls, cfg)
    if cls == "InputLayer":
        shape = cfg.get("batch_shape") or cfg.get("batch_input_shape") or []
        last = shape[-1] if isinstance(shape, list) and shape else None
        return 0, last if _is_int(last) else 0
    if cls == "Embedding":
        vocab = _size(cls, cfg, "input_dim", MAX_VOCAB)
        dim = _size(cls, cfg, "output_dim", MAX_WIDTH)
        return vocab * dim, dim
    if cls == "Dense":
        units = _size(cls, cfg, "units", MAX_VOCAB)
        return (width_in + 1) * units, units
    if cls == "Conv1D":
        filters = _size(cls, cfg, "filters", MAX_WIDTH)
        kernel = _size(cls, cfg, "kernel_size", MAX_KERNEL)
        _size(cls, cfg, "dilation_rate", MAX_DILATION)
        _size(cls, cfg, "strides", MAX_KERNEL)
        return kernel * width_in * filters + filters, filters
    if cls == "LSTM":
        units = _size(cls, cfg, "units", MAX_WIDTH)
        return 4 * (width_in + units + 1) * units, units
    if cls in ("MaxPooling1D",):
        _size(cls, cfg, "pool_size", MAX_KERNEL)
        if cfg.get("strides") is not None:
            _size(cls, cfg, "strides", MAX_KERNEL)
        return 0, width_in
    if cls in ("Dropout", "GlobalMaxPooling1D"):
        return 0, width_in
    if cls == "WaveNetStack":
        return _wavenet(cfg, width_in)
    if cls == "RecurrentStack":
        units = _size(cls, cfg, "units", MAX_WIDTH)
        layers = _size(cls, cfg, "layers", MAX_RECURRENT_LAYERS)
        return 4 * (width_in + units + 1) * units + (layers - 1) * 4 * (2 * units + 1) * units, units
    if cls == "TransformerStack":
        return _transformer(cfg, width_in)
    if cls == "KeySlice":
        start = _size(cls, cfg, "start", MAX_WIDTH, low=0)
        stop = _size(cls, cfg, "stop", MAX_WIDTH)
        return 0, max(stop - start, 0)
    if cls == "NADEHead":
        keys = _size(cls, cfg, "keys", MAX_WIDTH)
        hidden = _size(cls, cfg, "hidden", MAX_WIDTH)
        return (width_in + 1) * (keys + hidden) + 2 * keys * hidden, keys
    raise ModelLoadError(f"it contains a layer of class {cls!r}, which musegen does not build. {_RETRAIN}")


def _wavenet(cfg: dict[str, Any], width_in: int) -> tuple[int, int]:
    channels = _size("WaveNetStack", cfg, "channels", MAX_WIDTH)
    skip = _size("WaveNetStack", cfg, "skip_channels", MAX_WIDTH)
    kernel = _size("WaveNetStack", cfg, "kernel_size", MAX_KERNEL, low=2)
    dilations = cfg.get("dilations")
    if not isinstance(dilations, list) or not 1 <= len(dilations) <= MAX_DILATIONS:
        count = f"{len(dilations):,} dilations" if isinstance(dilations, list) else f"dilations {_short(dilations)}"
        raise ModelLoadError(
            f"its WaveNet stack has {count}; musegen builds 1 to {MAX_DILATIONS} (dilation_cycle x stacks). {_RETRAIN}"
        )
    bad = next((d for d in dilations if not _is_int(d) or not 1 <= d <= MAX_DILATION), None)
    if bad is not None:
        raise ModelLoadError(
            f"its WaveNet stack has a dilation of {_short(bad)}; musegen builds dilations from 1 to {MAX_DILATION:,} "
            f"(2**15). {_RETRAIN}"
        )
    blocks = len(dilations)
    block = kernel * channels * 2 * channels + 2 * channels + channels * skip + skip
    residual = channels * channels + channels
    params = kernel * width_in * channels + channels + blocks * block + (blocks - 1) * residual + skip * skip + skip
    return params, skip


def _transformer(cfg: dict[str, Any], width_in: int) -> tuple[int, int]:
    d = _size("TransformerStack", cfg, "d_model", MAX_WIDTH, low=8)
    heads = _size("TransformerStack", cfg, "heads", MAX_HEADS)
    layers = _size("TransformerStack", cfg, "layers", MAX_TRANSFORMER_LAYERS)
    ff = _size("TransformerStack", cfg, "ff_mult", MAX_FF_MULT)
    _size("TransformerStack", cfg, "span", MAX_SPAN)
    if d % heads or (d // heads) % 2:
        raise ModelLoadError(
            f"its Transformer stack has d_model {d} and {heads} heads; d_model must be a multiple of heads with an "
            f"even quotient. {_RETRAIN}"
        )
    block = 4 * d + (3 * d * d + 3 * d) + (d * d + d) + (ff * d * d + ff * d) + (ff * d * d + d)
    return width_in * d + d + layers * block + 2 * d, d
