"""JSON with limits: the one reader for every JSON file musegen opens (run folders, vocabularies,
token-store manifests, the config inside a ``.keras`` file).

:func:`parse_json` refuses text over a size limit or nested deeper than :data:`MAX_JSON_DEPTH`
(counted without recursion) before ``json.loads`` sees it; :func:`read_json_file` reads at most
that many bytes of a file, and refuses a folder, device or FIFO where the file should be without
opening it. Both raise :class:`JsonError`, whose message says what is wrong in words.
"""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["MAX_JSON_BYTES", "MAX_JSON_DEPTH", "JsonError", "json_depth", "parse_json", "read_json_file"]

MB = 1024 * 1024
MAX_JSON_BYTES = 4 * MB  # the default size limit (a model's config.json is about 4 KB)
MAX_JSON_DEPTH = 64  # nesting of any JSON musegen reads (a model config nests about 12 deep)


class JsonError(ValueError):
    """JSON that is too large, too deeply nested, not UTF-8 or not JSON; the message says which.

    ``reason`` is one of ``"unreadable"`` (the file could not be read: ``__cause__`` is the OSError),
    ``"not a file"``, ``"too large"`` or ``"invalid"`` (the text itself), for callers that word each
    case their own way.
    """

    def __init__(self, message: str, reason: str = "invalid") -> None:
        super().__init__(message)
        self.reason = reason


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
    data: bytes | str, what: str, *, max_bytes: int = MAX_JSON_BYTES, max_depth: int = MAX_JSON_DEPTH
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


def read_json_file(file: str | Path, default: Any, *, max_bytes: int = MAX_JSON_BYTES) -> Any:
    """The JSON file ``file`` parsed (:func:`parse_json`), or ``default`` when there is none.

    Never more than ``max_bytes`` is read; a folder, device or FIFO where the file should be is
    refused without being opened. JsonError (with its ``reason``) says what is wrong.
    """
    file = Path(file)
    try:
        info = file.stat()
    except FileNotFoundError:
        return default
    except OSError as exc:
        raise JsonError(f"{file} is unreadable ({exc})", "unreadable") from exc
    if not stat.S_ISREG(info.st_mode):
        kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise JsonError(f"{file} is {kind}", "not a file")
    if info.st_size > max_bytes:
        raise JsonError(
            f"{file} is {info.st_size / MB:,.1f} MB, over the limit of {max_bytes / MB:.0f} MB", "too large"
        )
    try:
        with file.open("rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise JsonError(f"{file} is unreadable ({exc})", "unreadable") from exc
    return parse_json(data, str(file), max_bytes=max_bytes)
