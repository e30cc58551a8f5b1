"""The ``.keras`` archive: its zip directory, its members' methods and sizes, its config and
metadata read in bounded steps, and its HDF5 weights' declared sizes (see :mod:`musegen.modelfile`)."""

from __future__ import annotations

import math
import struct
import zipfile
from pathlib import Path
from typing import Any, BinaryIO

from musegen.errors import ModelLoadError
from musegen.jsonio import JsonError, parse_json
from musegen.modelfile.layers import check_model_config
from musegen.modelfile.limits import (
    _RETRAIN,
    _STEP,
    CONFIG_MEMBERS,
    MAX_CONFIG_BYTES,
    MAX_DIRECTORY_BYTES,
    MAX_MEMBERS,
    MB,
    WEIGHT_BYTES_PER_PARAMETER,
    WEIGHTS_MEMBERS,
    WEIGHTS_OVERHEAD_BYTES,
)

__all__ = ["check_model_file"]


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
            # just before the locator, as zipfile reads it (the locator's offset is off in a zip with a prefix)
            (offset,) = struct.unpack_from("<Q", locator, 8)
            for at_record in (start + at - 20 - 56, offset):
                fh.seek(max(0, at_record))
                record = fh.read(56)
                if len(record) == 56 and record[:4] == b"PK\x06\x06":
                    entries, directory_bytes = struct.unpack_from("<QQ", record, 32)
                    break
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
