"""Corpora too big to hold: files found lazily, read one at a time, decoded in parallel, streamed out.

:func:`walk_inputs` finds the MIDI files of paths (files, folders searched to the depth limit, zips
opened member by member) one at a time: a folder is listed when the walk reaches it, never the whole
tree first. :func:`decode_stream` reads each file's bytes when its turn comes and decodes it in the
decoding workers (:class:`~musegen.sources.sandbox.DecodePool`, which reads only a few files ahead of
what it yields), so memory does not depend on how many files there are: only a few files' bytes and
pieces are alive at once. Files with the same bytes are decoded once; a compact set of 8-byte digests
remembers them. Every input gets one :class:`Decoded`-like result, in input order: the piece, or the
reason it was skipped.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from musegen.config import DataConfig, Limits
from musegen.errors import MidiReadError, UploadError
from musegen.notes import Piece
from musegen.sources import decode, files
from musegen.sources.archive import MIDI_SUFFIXES, ZipArchive
from musegen.sources.sandbox import DecodePool

_MB = 1024 * 1024
WANTED = (*MIDI_SUFFIXES, ".zip")


@dataclass
class StreamItem:
    """One input file on its way out: its name (the path below the input, or ``zip/member``), and its
    piece (named without the MIDI suffix) or the reason it was skipped."""

    name: str
    piece: Piece | None = None
    reason: str = ""


def walk_inputs(paths: Iterable[str | Path], limits: Limits) -> Iterator[tuple[str, Path | str]]:
    """(name, path to read) per file under ``paths``, or (name, reason) for one that is not read.

    Folders are walked depth first in name order (the order of :func:`musegen.sources.files.walk`),
    each listed only when the walk reaches it; links are not followed; deeper than the depth limit,
    a folder gets one reason. Names are relative to the folder given, so they stay unique.
    """
    for raw in paths:
        path = Path(raw)
        try:
            mode = path.stat().st_mode
        except OSError as exc:
            yield str(path), "file not found" if isinstance(exc, FileNotFoundError) else f"cannot read it ({exc})"
            continue
        if stat.S_ISREG(mode):
            yield path.name, path
        elif not stat.S_ISDIR(mode):
            yield str(path), files.not_regular_reason(mode)
        else:
            found = False
            for item in _walk_folder(path, limits.max_folder_depth):
                found = True
                yield item
            if not found:
                yield str(path), "folder holds no .mid, .midi or .zip files"


def _walk_folder(root: Path, max_depth: int) -> Iterator[tuple[str, Path | str]]:
    """Depth first, each folder's entries in name order, a subfolder walked where its name sorts."""
    stack: list[tuple[Iterator[tuple[str, bool, bool]], Path, int, str]] = []
    listing = _listing(root)
    if isinstance(listing, str):
        yield str(root), listing
        return
    stack.append((listing, root, 0, ""))
    while stack:
        entries, folder, depth, prefix = stack[-1]
        entry = next(entries, None)
        if entry is None:
            stack.pop()
            continue
        name, is_dir, is_link = entry
        rel = f"{prefix}{name}"
        wanted = name.lower().endswith(WANTED)
        if is_link:
            if wanted:
                yield rel, "symbolic link (not followed)"
        elif is_dir:
            if depth + 1 > max_depth:
                yield rel, f"folder nested more than {max_depth} levels deep (not searched)"
                continue
            inner = _listing(folder / name)
            if isinstance(inner, str):
                yield rel, inner
            else:
                stack.append((inner, folder / name, depth + 1, f"{rel}/"))
        elif wanted:
            yield rel, folder / name


def _listing(folder: Path) -> Iterator[tuple[str, bool, bool]] | str:
    """(name, is a folder, is a link) of a folder's entries in name order, or the reason it cannot be listed.
    Names only: a folder of 100,000 files costs a few MB while it is walked."""
    try:
        with os.scandir(folder) as entries:
            return iter(sorted((e.name, e.is_dir(follow_symlinks=False), e.is_symlink()) for e in entries))
    except OSError as exc:
        return f"cannot open the folder ({exc.strerror or exc})"


def decode_stream(
    inputs: Iterable[tuple[str, Path | str | bytes]],
    cfg: DataConfig,
    limits: Limits,
    *,
    workers: int | None = None,
) -> Iterator[StreamItem]:
    """Decode each input (a path read when its turn comes, bytes, or a reason) in the decoding workers;
    yield one :class:`StreamItem` per file, in input order (zips: one per member)."""
    seen = DigestSet()
    with DecodePool(cfg, limits, workers=workers or (os.cpu_count() or 1)) as pool:
        for item, decoded in pool.map(_jobs(inputs, limits, seen)):
            if decoded is not None:
                if decoded.notes is None:
                    item.reason = decoded.reason
                else:
                    item.piece = Piece(_display_name(item.name), decoded.notes, decoded.tempo, decoded.tempo_map)
            yield item


def _jobs(
    inputs: Iterable[tuple[str, Path | str | bytes]], limits: Limits, seen: DigestSet
) -> Iterator[tuple[StreamItem, bytes | None]]:
    """(item, bytes) for a worker, or (item with its reason, None) when the result is known already."""
    for name, payload in _files(inputs, limits):
        item = StreamItem(name)
        if isinstance(payload, str):
            item.reason = payload
            yield item, None
            continue
        digest = int.from_bytes(hashlib.blake2b(payload, digest_size=8).digest(), "little", signed=True)
        if not seen.add(digest):
            item.reason = "duplicate of an earlier file (the same bytes)"
            yield item, None
            continue
        try:
            decode.check_header(payload, limits)  # the cheap refusals need no worker
        except MidiReadError as exc:
            item.reason = str(exc)
            yield item, None
            continue
        yield item, payload


def _files(inputs: Iterable[tuple[str, Path | str | bytes]], limits: Limits) -> Iterator[tuple[str, bytes | str]]:
    """(name, bytes or reason) per file; a zip gives its members, read one at a time."""
    for name, payload in inputs:
        if isinstance(payload, Path):
            if name.lower().endswith(".zip"):
                yield from _zip_members(name, payload, limits)
                continue
            try:
                payload = files.read_limited(payload, limits.max_file_mb)
            except MidiReadError as exc:
                payload = str(exc)
        yield name, payload


def _zip_members(name: str, path: Path, limits: Limits) -> Iterator[tuple[str, bytes | str]]:
    """A zip's members. A zip refused part-way (it unpacks to too much) keeps the members read before."""
    try:
        fh = files.open_regular(path)
    except MidiReadError as exc:
        yield name, str(exc)
        return
    with fh:
        size = fh.seek(0, 2)
        if size > limits.max_upload_mb * _MB:
            yield name, f"{size / _MB:.0f} MB, over the upload limit of {limits.max_upload_mb} MB"
            return
        fh.seek(0)
        try:
            archive = ZipArchive(fh, name, limits)
            if not archive.infos:
                yield name, "empty zip archive (no files inside)"
            for member, payload in archive.members():
                yield f"{name}/{member}", payload
        except UploadError as exc:
            yield name, str(exc)


def _display_name(name: str) -> str:
    for suffix in MIDI_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


class DigestSet:
    """A set of 64-bit digests in about 8 bytes each: recent ones in a Python set, the rest in one sorted
    array merged in every 65,536 additions (so a million files cost 8 MB, not 60 MB of Python ints)."""

    MERGE = 65_536

    def __init__(self) -> None:
        self._sorted = np.zeros(0, np.int64)
        self._recent: set[int] = set()

    def __len__(self) -> int:
        return len(self._sorted) + len(self._recent)

    def add(self, digest: int) -> bool:
        """Add ``digest``; False when it was there already."""
        if digest in self._recent:
            return False
        i = int(np.searchsorted(self._sorted, digest))
        if i < len(self._sorted) and self._sorted[i] == digest:
            return False
        self._recent.add(digest)
        if len(self._recent) >= self.MERGE:
            merged = np.concatenate([self._sorted, np.fromiter(self._recent, np.int64, len(self._recent))])
            self._sorted = np.sort(merged)
            self._recent = set()
        return True
