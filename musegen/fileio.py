"""Atomic file writes: a temporary file in the same folder, then ``os.replace``.

A crash, a kill or a full disk never leaves half a file under the final name. A write that
fails (disk full, read-only folder, no permission) raises :class:`StorageError` saying which
file and what to do; the temporary file is removed and an older file of that name is kept.
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from musegen.errors import StorageError

_HINTS = {
    errno.ENOSPC: "no space left on the disk; free some space and try again",
    errno.EDQUOT: "the disk quota is used up; free some space and try again",
    errno.EROFS: "the folder is on a read-only file system; point musegen at a writable folder "
    "(MUSEGEN_RUNS_DIR for the app, --runs-dir for the command line)",
    errno.EACCES: "permission denied; make the folder writable or choose another one",
    errno.EPERM: "operation not permitted; make the folder writable or choose another one",
}

_UMASK = os.umask(0)
os.umask(_UMASK)


def storage_error(exc: OSError, path: str | Path, action: str = "write") -> StorageError:
    """A StorageError for a failed file-system call on ``path`` (keeps ``errno``; chain it with ``from``)."""
    if isinstance(exc, StorageError):
        return exc
    hint = _HINTS.get(exc.errno or 0, exc.strerror or str(exc))
    tail = " Nothing was half-written." if action == "write" else ""
    error = StorageError(f"Cannot {action} {path}: {hint}.{tail}")
    error.errno = exc.errno
    return error


def make_dirs(path: str | Path) -> Path:
    """``mkdir -p`` that fails with a StorageError saying why."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise storage_error(exc, path, "create the folder") from exc
    return path


def atomic_write_bytes(path: str | Path, data: bytes, *, durable: bool = True) -> None:
    """Write ``data`` to ``path`` atomically; ``durable`` also flushes it to disk (fsync)."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise storage_error(exc, path) from exc
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise storage_error(exc, path) from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=json_default))


def json_default(value: Any) -> Any:
    """``json.dumps`` fallback: numpy scalars and arrays become plain values, anything else its str."""
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)
