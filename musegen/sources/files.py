"""Files and folders on disk, read as untrusted input: only regular files, never more than a limit.

A path may name a character device (``/dev/zero``), a FIFO that blocks whoever opens it, a
socket, a sparse file of gigabytes or a folder nested a thousand deep. Each is refused with a
reason instead: the kind is checked with ``stat`` before opening (and again on the open file,
which is opened non-blocking), the size before reading, and no more than the limit plus one
byte is ever read. Folders are walked without recursion, to a depth limit.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from musegen.errors import MidiReadError
from musegen.fileio import kind_of

_MB = 1024 * 1024
_READ_STEP = 4 * _MB  # a file larger than it claims is read this much at a time


def not_regular_reason(mode: int) -> str:
    return f"not a regular file but {kind_of(mode)}; only regular files are read"


def open_regular(path: str | Path) -> BinaryIO:
    """Open a regular file for reading; MidiReadError (the reason, no name) for anything else.

    Never blocks: the kind is checked before opening, and the file is opened with ``O_NONBLOCK``
    and checked again, in case it was swapped for a FIFO in between.
    """
    try:
        before = os.stat(path)
        if not stat.S_ISREG(before.st_mode):
            raise MidiReadError(not_regular_reason(before.st_mode))
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError as exc:
        raise MidiReadError("cannot read the file (file not found)") from exc
    except OSError as exc:
        raise MidiReadError(f"cannot read the file ({exc.strerror or exc})") from exc
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise MidiReadError(not_regular_reason(mode))
    return os.fdopen(fd, "rb")


def read_limited(path: str | Path, limit_mb: int, what: str = "size") -> bytes:
    """The bytes of a regular file of at most ``limit_mb`` MB; MidiReadError (the reason) otherwise."""
    limit = limit_mb * _MB
    with open_regular(path) as fh:
        size = os.fstat(fh.fileno()).st_size
        data = b"" if size > limit else _read(fh, limit + 1, size)
    if size > limit or len(data) > limit:
        raise MidiReadError(f"{max(size, len(data)) / _MB:.1f} MB, over the {what} limit of {limit_mb} MB.")
    return data


def _read(fh: BinaryIO, most: int, size: int) -> bytes:
    """At most ``most`` bytes: the ``size`` the file claims (and one more) in one read, then pieces while it
    grows, so memory follows what the file holds, never the limit (which may be any number)."""
    try:
        first = fh.read(min(most, size + 1))
        if len(first) <= size:
            return first
        pieces, total = [first], len(first)
        while total < most and (piece := fh.read(min(_READ_STEP, most - total))):
            pieces.append(piece)
            total += len(piece)
        return b"".join(pieces)
    except OSError as exc:
        raise MidiReadError(f"cannot read the file ({exc.strerror or exc})") from exc


def walk(root: Path, suffixes: tuple[str, ...], max_depth: int) -> Iterator[tuple[Path, str]]:
    """Files under ``root`` whose name ends in one of ``suffixes``, sorted by path: (path, "") for a
    regular file, (path, reason) for one that is not read (a link, a FIFO, a folder too deep).

    Iterative, so depth costs no recursion; folders deeper than ``max_depth`` get one reason each.
    """
    found: list[tuple[tuple[str, ...], Path, str]] = []
    stack = [(root, 0)]
    while stack:
        folder, depth = stack.pop()
        try:
            with os.scandir(folder) as entries:
                listing = list(entries)
        except OSError as exc:
            found.append((folder.parts, folder, f"cannot open the folder ({exc.strerror or exc})"))
            continue
        for entry in listing:
            path = Path(entry.path)
            wanted = entry.name.lower().endswith(suffixes)
            try:
                if entry.is_symlink():  # inside a folder, as inside a zip: a link may point anywhere
                    if wanted:
                        found.append((path.parts, path, "symbolic link (not followed)"))
                elif entry.is_dir(follow_symlinks=False):
                    if depth + 1 > max_depth:
                        found.append(
                            (path.parts, path, f"folder nested more than {max_depth} levels deep (not searched)")
                        )
                    else:
                        stack.append((path, depth + 1))
                elif wanted:
                    mode = entry.stat(follow_symlinks=False).st_mode
                    found.append((path.parts, path, "" if stat.S_ISREG(mode) else not_regular_reason(mode)))
            except OSError as exc:
                found.append((path.parts, path, f"cannot read the file ({exc.strerror or exc})"))
    found.sort(key=lambda row: row[0])
    for _, path, reason in found:
        yield path, reason
