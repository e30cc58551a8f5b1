"""The checks a ``.keras`` file must pass before Keras (and so TensorFlow) is imported to open it.

A missing, truncated or foreign file is refused in milliseconds with :class:`ModelLoadError`,
instead of after the seconds a TensorFlow import takes; :func:`musegen.models.load_model`
then opens what passed, with ``safe_mode=True``.

A ``.keras`` file is a zip of ``metadata.json``, ``config.json`` (the layers and their sizes,
from which Keras builds the model) and ``model.weights.h5``. Keras trusts the config: 100,000
dilations, a dilation of 2**24 (a crash in TensorFlow), a Dense of 10**6 units or a chain of
10,000 layers are built as asked, at the cost of minutes, gigabytes or the process. So before
Keras sees a file, :func:`check_model_file`

- reads the zip's directory only when it is small (:data:`MAX_MEMBERS` entries), allows only the
  stored and deflate methods (zipfile inflates bzip2 and LZMA in unbounded steps);
- reads ``config.json`` (and ``metadata.json``) in 64 KiB steps, counting the bytes really
  inflated, up to :data:`MAX_CONFIG_BYTES`;
- checks the JSON's nesting (:data:`MAX_JSON_DEPTH`, without recursion) before ``json.loads``;
- walks the layer configs without recursion: the model class, every layer's class (those musegen
  builds, :data:`KERAS_LAYERS` and :data:`MUSEGEN_LAYERS`), their sizes against the limits of
  :meth:`musegen.config.ModelConfig.validate`, every shape, and an estimate of the parameters
  (:data:`MAX_PARAMETERS`);
- refuses a weights member larger than those parameters can need, and weights whose HDF5 datasets
  declare more than that (h5py, not TensorFlow).

Every limit is a constant of this module. :func:`parse_json` (JSON with a size and depth limit) is
what the run folder's readers (:mod:`musegen.runs`) use for their files too.
"""

from __future__ import annotations

import json
import math
import re
import struct
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from musegen.errors import ModelLoadError

__all__ = [
    "KERAS_LAYERS",
    "MAX_CONFIG_BYTES",
    "MAX_PARAMETERS",
    "MUSEGEN_LAYERS",
    "JsonError",
    "check_model_config",
    "check_model_file",
    "estimate_parameters",
    "json_depth",
    "parse_json",
]

KB, MB = 1024, 1024 * 1024

# ---------------------------------------------------------------- the limits (one place)

MAX_CONFIG_BYTES = 4 * MB  # config.json / metadata.json, inflated (musegen's are about 4 KB)
MAX_JSON_DEPTH = 64  # nesting of any JSON musegen reads (a model config nests about 12 deep)
MAX_JSON_NODES = 200_000  # values in a model config (musegen's have a few hundred)
MAX_MEMBERS = 64  # entries of a .keras zip (musegen's have 3)
MAX_DIRECTORY_BYTES = 256 * KB  # the zip's central directory
MAX_LAYERS = 64  # layers of the model (musegen's have 4 to 13)
MAX_INBOUND_NODES = 8  # calls of one layer (musegen calls each once)
MAX_PARAMETERS = 50_000_000  # musegen's presets have about 0.2-5 M; 50 M is 200 MB of float32 weights
WEIGHT_BYTES_PER_PARAMETER = 16  # float32 weights + Adam's two slots (last.keras) + headroom
WEIGHTS_OVERHEAD_BYTES = 16 * MB  # HDF5 headers and the optimizer's small variables
MAX_DIM = 65_536  # any dimension of an input or build shape
# the limits of ModelConfig.validate (musegen/config.py), so that every model musegen can train loads
MAX_WIDTH = 4096  # embed_dim, channels, skip_channels, units, d_model; also Conv1D filters and LSTM units
MAX_VOCAB = 65_536  # Embedding input_dim and Dense units (an output head is as wide as the vocabulary)
MAX_KERNEL = 16  # kernel_size of a convolution, and strides / pool sizes
MAX_DILATION = 2 ** (16 - 1)  # dilation_cycle <= 16: dilations 1 .. 2**15
MAX_DILATIONS = 16 * 16  # dilation_cycle x stacks
MAX_RECURRENT_LAYERS = 8  # ModelConfig.layers
MAX_TRANSFORMER_LAYERS = 32  # ModelConfig.transformer_layers
MAX_HEADS = 64
MAX_FF_MULT = 16
MAX_SPAN = 8192  # ModelConfig.attention_span and DataConfig.window

MODEL_CLASSES = ("Functional",)  # keras.Model(inputs, outputs), as musegen.models builds every model
# The layers musegen.models builds at the top of a model (the layers inside the three stacks are
# made by the stacks themselves from their sizes, so they never appear in a config).
KERAS_LAYERS = (
    "InputLayer",
    "Embedding",  # the token adapter
    "Dense",  # the frame adapter, the output heads, the classic models' hidden layer
    "Conv1D",  # classic-wavenet
    "Dropout",  # classic-wavenet
    "MaxPooling1D",  # classic-wavenet
    "GlobalMaxPooling1D",  # classic-wavenet
    "LSTM",  # classic-lstm
)
# registered as "musegen>Name"; KeySlice and NADEHead make the NADE head of piano-roll models
MUSEGEN_LAYERS = ("WaveNetStack", "RecurrentStack", "TransformerStack", "KeySlice", "NADEHead")
CONFIG_MEMBERS = ("config.json", "metadata.json")
WEIGHTS_MEMBERS = ("model.weights.h5", "model.weights.npz")
_STEP = 64 * KB
_RETRAIN = "Only models trained by musegen can be loaded; retrain the model or pick another run."


class JsonError(ValueError):
    """JSON that is too large, too deeply nested, not UTF-8 or not JSON; the message says which."""


# ---------------------------------------------------------------- JSON with limits

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_OPEN, _CLOSE = np.zeros(256, np.int8), np.zeros(256, np.int8)
_OPEN[[ord("{"), ord("[")]] = 1
_CLOSE[[ord("}"), ord("]")]] = 1


def json_depth(data: bytes) -> int:
    """The deepest nesting of brackets in JSON text ``data``, outside strings; no recursion.

    Strings are cut out first (a regular expression, linear), then the brackets are counted with
    numpy, so a few MB take milliseconds and 100,000 opening brackets cost nothing.
    """
    bare = np.frombuffer(_STRING.sub(b"", data), dtype=np.uint8)
    if not len(bare):
        return 0
    steps = _OPEN[bare].astype(np.int64) - _CLOSE[bare]
    return int(np.cumsum(steps).max(initial=0))


def parse_json(
    data: bytes | str, what: str, *, max_bytes: int = MAX_CONFIG_BYTES, max_depth: int = MAX_JSON_DEPTH
) -> Any:
    """``data`` parsed as JSON, or JsonError (what is wrong with ``what``, in words) when it is over
    ``max_bytes``, nested deeper than ``max_depth``, not UTF-8 or not JSON."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    if len(raw) > max_bytes:
        raise JsonError(f"{what} is {len(raw) / MB:.1f} MB, over the limit of {max_bytes / MB:.0f} MB")
    depth = json_depth(raw)
    if depth > max_depth:
        raise JsonError(f"{what} nests {depth:,} levels deep, over the limit of {max_depth}")
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise JsonError(f"{what} is not UTF-8 text (byte {exc.start})") from None
    except RecursionError:  # depth was checked; kept for safety
        raise JsonError(f"{what} nests too deeply") from None
    except ValueError as exc:  # json.JSONDecodeError
        raise JsonError(f"{what} is not valid JSON ({exc})") from None


# ---------------------------------------------------------------- the file


def check_model_file(path: str | Path) -> Path:
    """``path`` as a Path when it is a ``.keras`` archive musegen can load; else ModelLoadError.

    The archive, its config and its weights' sizes are checked (see the module doc) without
    importing TensorFlow; what passes is safe to give to Keras.
    """
    p = Path(path)
    if not p.is_file():
        raise ModelLoadError(f"No model file at {p}. Train a model first, or pick a run that finished.")
    if not zipfile.is_zipfile(p):
        raise ModelLoadError(
            f"{p} is not a Keras model archive (.keras is a zip): it is truncated or another kind of file. "
            "Retrain the model or use the run's other checkpoint (model.keras / last.keras)."
        )
    try:
        with p.open("rb") as fh:
            _check_directory(fh)
            with zipfile.ZipFile(fh) as zf:
                _check_archive(zf)
    except ModelLoadError as exc:
        raise ModelLoadError(f"Could not load the model {p}: {exc}") from None
    except (OSError, EOFError, zipfile.BadZipFile, zipfile.LargeZipFile, ValueError) as exc:
        raise ModelLoadError(
            f"{p} is a damaged Keras model archive ({exc}). Retrain the model or use the run's other checkpoint."
        ) from exc
    return p


def _check_directory(fh: BinaryIO) -> None:
    """The entry count and size of the central directory, from the end record, before zipfile parses it."""
    fh.seek(0, 2)
    size = fh.tell()
    start = max(0, size - (22 + 0xFFFF))
    fh.seek(start)
    tail = fh.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        raise zipfile.BadZipFile("no end of central directory record")
    _, _, _, _, entries, directory_bytes, _, _ = struct.unpack_from("<4s4H2LH", tail, at)
    if start + at >= 20:
        fh.seek(start + at - 20)
        locator = fh.read(20)
        if locator[:4] == b"PK\x06\x07":  # zip64: the real counts are in the zip64 end record
            (offset,) = struct.unpack_from("<Q", locator, 8)
            fh.seek(offset)
            record = fh.read(56)
            if len(record) == 56 and record[:4] == b"PK\x06\x06":
                entries, directory_bytes = struct.unpack_from("<QQ", record, 32)
    if entries > MAX_MEMBERS or directory_bytes > MAX_DIRECTORY_BYTES:
        raise ModelLoadError(
            f"the archive lists {entries:,} files in a directory of {directory_bytes:,} bytes; a musegen model "
            f"has 3 (at most {MAX_MEMBERS} are read). {_RETRAIN}"
        )


def _check_archive(zf: zipfile.ZipFile) -> None:
    infos = {info.filename: info for info in zf.infolist()}
    for info in infos.values():
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ModelLoadError(
                f"its member {info.filename!r} uses compression method {info.compress_type}; Keras writes stored "
                f"members (and musegen reads stored or deflated ones only). {_RETRAIN}"
            )
        if info.flag_bits & 0x1:
            raise ModelLoadError(f"its member {info.filename!r} is encrypted. {_RETRAIN}")
    if "config.json" not in infos:
        raise ModelLoadError(f"the archive has no config.json, so it is not a Keras model. {_RETRAIN}")
    config: Any = None
    for name in CONFIG_MEMBERS:
        if name in infos:
            data = _read_member(zf, infos[name], MAX_CONFIG_BYTES)
            value = _parse(data, name)
            if name == "config.json":
                config = value
    parameters = check_model_config(config)
    weights = [infos[n] for n in WEIGHTS_MEMBERS if n in infos]
    budget = WEIGHT_BYTES_PER_PARAMETER * parameters + WEIGHTS_OVERHEAD_BYTES
    for info in weights:
        if info.file_size > budget:
            raise ModelLoadError(
                f"its weights ({info.filename}) unpack to {info.file_size / MB:,.0f} MB, but a model of "
                f"{parameters:,} parameters needs at most {budget / MB:,.0f} MB: the file is damaged or hostile. "
                f"{_RETRAIN}"
            )
        if info.filename.endswith(".h5"):
            _check_h5(zf, info, budget)


def _parse(data: bytes, name: str) -> Any:
    try:
        return parse_json(data, name)
    except JsonError as exc:
        raise ModelLoadError(f"{exc}. {_RETRAIN}") from None


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int) -> bytes:
    """A member's bytes, read 64 KiB at a time; refused as soon as more than ``cap`` bytes came out.

    For stored and deflated members (the only ones let through) zipfile inflates at most the
    size asked for per read, so the bytes counted are the bytes really inflated.
    """
    if info.file_size > cap:
        raise ModelLoadError(
            f"its {info.filename} unpacks to {info.file_size / MB:,.1f} MB, over the limit of {cap / MB:.0f} MB "
            f"(a musegen model's is a few KB). {_RETRAIN}"
        )
    pieces, total = [], 0
    with zf.open(info) as fh:
        while piece := fh.read(_STEP):
            total += len(piece)
            if total > cap:
                raise ModelLoadError(f"its {info.filename} unpacks to more than {cap / MB:.0f} MB. {_RETRAIN}")
            pieces.append(piece)
    return b"".join(pieces)


def _check_h5(zf: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int) -> None:
    """The datasets of the HDF5 weights may not declare more bytes than the parameters need.

    (External, virtual and linked datasets are refused by Keras itself, with its own message.)
    """
    try:
        import h5py  # Keras's own dependency; no TensorFlow
    except ImportError:  # pragma: no cover - Keras cannot read the weights without it either
        return
    declared = 0

    def visit(name: str, obj: Any) -> None:
        nonlocal declared
        if isinstance(obj, h5py.Dataset):
            declared += math.prod(obj.shape or ()) * obj.dtype.itemsize
            if declared > budget:
                raise ModelLoadError(
                    f"its weights declare more than {budget / MB:,.0f} MB of arrays, more than the model's "
                    f"parameters need (dataset {name!r}): the file is damaged or hostile. {_RETRAIN}"
                )

    try:
        with zf.open(info) as fh, h5py.File(fh, "r") as h5:
            h5.visititems(visit)
    except ModelLoadError:
        raise
    except Exception as exc:  # h5py raises OSError, KeyError, RuntimeError... on a damaged file
        raise ModelLoadError(f"its weights ({info.filename}) are not a readable HDF5 file ({exc}). {_RETRAIN}") from exc


# ---------------------------------------------------------------- the config


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
