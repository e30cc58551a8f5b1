"""Atomic file writes: a temporary file in the same folder, then ``os.replace``.

A crash, a kill or a full disk never leaves half a file under the final name (a run's status.json
may instead be written over in place when the disk has no room left for a temporary file:
:func:`overwrite_in_place`). A write that
fails (disk full, read-only folder, no permission, a folder that cannot exist) raises
:class:`StorageError` saying which file and what to do; the temporary file is removed and an
older file of that name is kept. Only a regular file (or nothing) is ever replaced: a symbolic
link, a folder, a device, a FIFO or a socket under the name is refused, never renamed over
(as root, ``--out /dev/null`` would otherwise replace the system's ``/dev/null``).
"""

from __future__ import annotations

import errno
import json
import os
import stat
import tempfile
from collections.abc import Callable
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
    errno.ENOENT: "the folder does not exist or takes no new files; choose another path",
    errno.ENOTDIR: "a part of the path is a file, not a folder; choose another path",
    errno.EISDIR: "it is a folder; give a file name",
    errno.ENAMETOOLONG: "the name is too long; choose a shorter one",
    errno.EINVAL: "the file system does not accept that name; choose another path",
    errno.EEXIST: "a file of that name is in the way; choose another path",
}
_FULL = {errno.ENOSPC: "The disk is full", errno.EDQUOT: "The disk quota is used up"}
_KINDS = (
    (stat.S_ISLNK, "a symbolic link"),
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
)

_UMASK = os.umask(0)
os.umask(_UMASK)


def storage_error(exc: OSError, path: str | Path, action: str = "write") -> StorageError:
    """A StorageError for a failed file-system call on ``path`` (keeps ``errno``; chain it with ``from``)."""
    if isinstance(exc, StorageError):
        return exc
    hint = _HINTS.get(exc.errno or 0, exc.strerror or str(exc))
    tail = " Nothing was half-written." if action == "write" else ""
    error = StorageError(f"Cannot {action} {path}: {hint}.{tail}")
    error.errno, error.path = exc.errno, str(path)
    return error


def disk_full_cause(exc: BaseException) -> str:
    """ "The disk is full" (ENOSPC) or "The disk quota is used up" (EDQUOT) for such an error, else ""."""
    return _FULL.get(getattr(exc, "errno", None) or 0, "") if isinstance(exc, OSError) else ""


def kind_of(mode: int) -> str:
    """What a file of this ``st_mode`` is, in words ('a regular file', 'a FIFO (named pipe)', ...)."""
    if stat.S_ISREG(mode):
        return "a regular file"
    return next((words for test, words in _KINDS if test(mode)), "not a regular file")


def check_target(path: str | Path) -> None:
    """Raise StorageError unless ``path`` names a file that may be written: nothing there yet, or a
    regular file (never a symbolic link, folder, device, FIFO or socket, which a rename would replace)."""
    path = Path(path)
    if not str(path).strip() or path.name in ("", ".", ".."):
        raise StorageError(f"Cannot write {str(path)!r}: that is not a file name; give one, e.g. out.mid.")
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise storage_error(exc, path) from exc
    if not stat.S_ISREG(mode):
        raise StorageError(
            f"Cannot write {path}: it is {kind_of(mode)}, and musegen only replaces regular files. "
            "Give the path of a new or ordinary file."
        )


def check_writable(folder: str | Path) -> None:
    """Raise StorageError unless a new file can be created in ``folder`` (check it before long work)."""
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".musegen-probe-")
    except OSError as exc:
        raise storage_error(exc, Path(folder), "write in") from exc
    os.close(fd)
    os.unlink(probe)


def check_can_write(path: str | Path) -> None:
    """Raise StorageError unless ``path`` could be written later, creating nothing now: a new or regular
    file (:func:`check_target`) in a folder that exists and takes new files, or that could be made."""
    path = Path(path)
    check_target(path)
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise StorageError(f"Cannot write {path}: {folder} is a file, not a folder; choose another path.")
    check_writable(folder)


def make_dirs(path: str | Path) -> Path:
    """``mkdir -p`` that fails with a StorageError saying why."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise storage_error(exc, path, "create the folder") from exc
    return path


def atomic_write(path: str | Path, write: Callable[[Path], None], *, suffix: str = ".tmp") -> None:
    """Write ``path`` atomically: ``write(tmp)`` fills a temporary file in the same folder, which is
    then renamed over ``path``; a failure leaves the older file of that name intact.

    The one atomic writer of musegen (bytes, text, JSON and Keras models go through it). Refused with
    StorageError when something other than a regular file is there (:func:`check_target`).
    """
    path = Path(path)
    check_target(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
        os.close(fd)
    except OSError as exc:
        raise storage_error(exc, path) from exc
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)
        write(Path(tmp))
        check_target(path)  # again, just before the rename: it may have appeared meanwhile
        os.replace(tmp, path)
    except StorageError:
        Path(tmp).unlink(missing_ok=True)
        raise
    except OSError as exc:  # disk full, read-only
        Path(tmp).unlink(missing_ok=True)
        raise storage_error(exc, path) from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | Path, data: bytes, *, durable: bool = True) -> None:
    """Write ``data`` to ``path`` atomically; ``durable`` also flushes it to disk (fsync)."""

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            fh.write(data)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())

    atomic_write(path, write)


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj: Any, *, in_place_if_full: bool = False) -> None:
    """Write ``obj`` as JSON to ``path`` atomically. With ``in_place_if_full``, a disk too full for the
    temporary file has the text written over the old file in place instead (:func:`overwrite_in_place`)."""
    text = json.dumps(obj, indent=2, sort_keys=True, default=json_default)
    try:
        atomic_write_text(path, text)
    except StorageError as exc:
        if not (in_place_if_full and disk_full_cause(exc) and Path(path).is_file()):
            raise
        try:
            overwrite_in_place(path, text.encode("utf-8"))
        except StorageError:
            raise exc from None


def overwrite_in_place(path: str | Path, data: bytes) -> None:
    """Write ``data`` over the regular file ``path`` from its start, padded with spaces to its old length.

    For a small file that must say something when the disk is full (a run's status.json): the file's
    blocks are already allocated, so nothing new is needed. Refused (StorageError, the file untouched)
    when ``data`` needs more room than the file holds. Not atomic: a reader at that moment, or a crash,
    may see the old and the new text mixed.
    """
    path = Path(path)
    check_target(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or len(data) > max(info.st_size, info.st_blocks * 512):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            data = data.ljust(info.st_size, b" ")  # JSON ends with any whitespace: nothing old is left
            done = 0
            while done < len(data):
                done += os.pwrite(fd, data[done:], done)
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise storage_error(exc, path) from exc


def json_default(value: Any) -> Any:
    """``json.dumps`` fallback: numpy scalars and arrays become plain values, anything else its str."""
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)
