"""Safe reading of zip archives of MIDI files, one member at a time.

Nothing is written to disk, so a member name cannot escape a folder; names that try
(``../x.mid``, ``/etc/x.mid``) are still refused and reported, as are symlinks, nested
archives, encrypted members and anything over the limits. The limits are checked where
they are cheapest: the entry count and the central directory's size from the end record,
before :mod:`zipfile` parses the directory; the unpacked size as members inflate, in steps
of 64 KiB whatever the compression (deflate, bzip2, LZMA), counting bytes really inflated,
not the sizes the archive claims. Members are read one by one, so an archive never sits
unpacked in memory.
"""

from __future__ import annotations

import bz2
import io
import itertools
import lzma
import stat
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, BinaryIO

from musegen.config import Limits
from musegen.errors import UploadError

MIDI_SUFFIXES = (".mid", ".midi", ".smf", ".kar")
DIRECTORY_BYTES_PER_ENTRY = 1024  # a central directory larger than this per allowed entry is refused unread
_MB = 1024 * 1024
_STEP = 64 * 1024  # most bytes one decompression step may produce
MAX_RATIO = 100  # a member inflating more than this per compressed byte is a flood (real MIDI files: 3 to 7)
_END = struct.Struct("<4s4H2LH")  # end of central directory record
_END64_LOCATOR = struct.Struct("<4sLQL")
_END64 = struct.Struct("<4sQ2H2L4Q")
_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}


@dataclass
class ZipContents:
    members: list[tuple[str, bytes]] = field(default_factory=list)  # (name inside the zip, data)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (name, reason)


def is_zip(data: bytes) -> bool:
    return data[:4] == b"PK\x03\x04" or data[:4] == b"PK\x05\x06"


def unsafe_name_reason(name: str) -> str | None:
    """Why a member name is refused, or None when it is a plain relative name."""
    if any(ord(c) < 32 for c in name):
        return "unsafe name (control characters)"
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return "unsafe name (absolute path)"
    if ".." in path.parts:
        return "unsafe name (path traversal '..')"
    return None


def read_zip(data: bytes, archive_name: str, limits: Limits | None = None) -> ZipContents:
    """The MIDI members of a zip, with a reason for every entry that was not taken (all in memory)."""
    out = ZipContents()
    for name, payload in ZipArchive(data, archive_name, limits).members():
        if isinstance(payload, bytes):
            out.members.append((name, payload))
        else:
            out.skipped.append((name, payload))
    return out


class ZipArchive:
    """A zip archive opened for reading its MIDI members one by one.

    Opening raises UploadError when the archive is unreadable or holds too many entries;
    :meth:`members` raises it when the archive unpacks to more than the unpacked limit.
    """

    def __init__(self, source: bytes | BinaryIO, name: str, limits: Limits | None = None) -> None:
        self.name = name
        self.limits = limits or Limits.from_env()
        self._fh = io.BytesIO(source) if isinstance(source, bytes) else source
        try:
            self._check_directory()
            self._zip = zipfile.ZipFile(self._fh)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, struct.error) as exc:
            raise UploadError(f"{name} is not a readable zip archive ({exc}). Re-create it and try again.") from exc
        self.infos = [i for i in self._zip.infolist() if not i.is_dir()]
        self._refuse_entries(len(self.infos))

    def members(self) -> Iterator[tuple[str, bytes | str]]:
        """(name, bytes) per MIDI member, (name, reason) per entry not taken, in archive order."""
        file_cap = self.limits.max_file_mb * _MB
        budget = self.limits.max_unpacked_mb * _MB
        flood_from = 2 * self.limits.max_events_per_file  # past this size a file could pass the event limit
        for info in self.infos:
            reason = _member_reason(info)
            if reason:
                yield info.filename, reason
                continue
            cap = min(file_cap, budget)
            try:
                payload = _inflate(self._fh, info, cap, flood_from)
            except _TooBig as big:
                budget -= big.inflated  # skipped members count too: inflating them is the work a bomb asks for
                if isinstance(big, _Flood):  # cut off early: what its entry claims counts too
                    budget -= max(0, info.file_size - big.inflated)
                if (cap < file_cap and not isinstance(big, _Flood)) or budget <= 0:
                    raise UploadError(
                        f"{self.name} unpacks to more than {self.limits.max_unpacked_mb} MB (a zip bomb?). "
                        "Upload a smaller archive."
                    ) from None
                yield info.filename, _too_big_reason(big, self.limits, info.file_size)
                continue
            except (zipfile.BadZipFile, OSError, EOFError, zlib.error, lzma.LZMAError, ValueError) as exc:
                yield info.filename, f"unreadable zip member ({exc}); re-create the archive"
                continue
            budget -= len(payload)
            yield info.filename, payload

    def _check_directory(self) -> None:
        """Refuse an archive whose end record announces too many entries or too large a directory.

        zipfile reads and parses the whole central directory when it opens an archive (3.9 million
        entries: 2 GB and 17 s), so the end record is read first, and the entries are counted with
        a cheap scan that stops past the limit.
        """
        entries, size, start = _directory_extent(self._fh)
        self._refuse_entries(entries)
        allowed = self.limits.max_zip_members * DIRECTORY_BYTES_PER_ENTRY
        if size > allowed:
            raise UploadError(
                f"{self.name} has a central directory of {size / _MB:.1f} MB, more than "
                f"{self.limits.max_zip_members:,} entries need. Split it into smaller archives."
            )
        self._fh.seek(start)
        self._refuse_entries(_count_entries(self._fh.read(size), self.limits.max_zip_members + 1), counted=True)

    def _refuse_entries(self, count: int, counted: bool = False) -> None:
        """UploadError past the entry limit (``counted``: the scan stopped there, there may be more)."""
        limit = self.limits.max_zip_members
        if count > limit:
            many = f"over {limit}" if counted else str(count)
            raise UploadError(
                f"{self.name} has {many} entries; the limit is {limit}. "
                "Split it into smaller archives (or raise MUSEGEN_MAX_ZIP_MEMBERS)."
            )


class _TooBig(Exception):
    def __init__(self, inflated: int):
        super().__init__(inflated)
        self.inflated = inflated  # bytes inflated before giving up


def _too_big_reason(big: _TooBig, limits: Limits, claimed: int) -> str:
    """Why a member was cut off: the size limit, also for a flood whose entry claims more than it."""
    if isinstance(big, _Flood) and claimed <= limits.max_file_mb * _MB:
        return (
            f"unpacks more than {MAX_RATIO} times its compressed size (real MIDI files: 3 to 7 times), "
            f"past {2 * limits.max_events_per_file / _MB:.0f} MB: an event flood? Not read further; "
            "if it is a real piece, upload it on its own, not zipped"
        )
    return f"over the size limit of {limits.max_file_mb} MB"


class _Flood(_TooBig):
    """A member that inflated more than MAX_RATIO times what it read, past the size of an event flood."""


def _directory_extent(fh: BinaryIO) -> tuple[int, int, int]:
    """(entries, size, offset) of the central directory, from the end records (as zipfile finds them)."""
    fh.seek(0, io.SEEK_END)
    file_size = fh.tell()
    tail_start = max(0, file_size - (_END.size + 0xFFFF))
    fh.seek(tail_start)
    tail = fh.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < _END.size:
        raise zipfile.BadZipFile("no end of central directory record")
    end_at = tail_start + at
    _, _, _, _, entries, size, _, _ = _END.unpack_from(tail, at)
    start = end_at - size
    if end_at >= _END64_LOCATOR.size + _END64.size:
        fh.seek(end_at - _END64_LOCATOR.size)
        locator = fh.read(_END64_LOCATOR.size)
        if locator[:4] == b"PK\x06\x07":  # zip64: the counts are in the record before the locator
            record_at = end_at - _END64_LOCATOR.size - _END64.size
            fh.seek(record_at)
            record = _END64.unpack(fh.read(_END64.size))
            if record[0] == b"PK\x06\x06":
                entries, size = record[7], record[8]
                start = record_at - size
    return entries, size, max(0, start)


def _count_entries(directory: bytes, stop: int) -> int:
    """Central directory headers in ``directory``, counting no further than ``stop``."""
    count = pos = 0
    while count < stop and directory[pos : pos + 4] == b"PK\x01\x02" and pos + 46 <= len(directory):
        name_len, extra_len, comment_len = struct.unpack_from("<3H", directory, pos + 28)
        pos += 46 + name_len + extra_len + comment_len
        count += 1
    return count


def _member_reason(info: zipfile.ZipInfo) -> str | None:
    name = info.filename
    unsafe = unsafe_name_reason(name)
    if unsafe:
        return unsafe
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        return "symbolic link (not followed)"
    base = PurePosixPath(name).name
    if name.startswith("__MACOSX/") or base.startswith("._"):
        return "macOS metadata file"
    if base.lower().endswith(".zip"):
        return "nested archive (zips inside zips are not opened; unpack it first)"
    if not base.lower().endswith(MIDI_SUFFIXES):
        return "not a MIDI file (expected .mid or .midi)"
    if info.flag_bits & 0x1:
        return "encrypted (password-protected) member; unzip it and add the MIDI files themselves"
    if info.compress_type not in _METHODS:
        return f"compressed with an unsupported method ({info.compress_type}); re-create the zip with deflate"
    return None


def _inflate(fh: BinaryIO, info: zipfile.ZipInfo, cap: int, flood_from: int) -> bytes:
    """One member's bytes, inflated at most 64 KiB at a time; _TooBig as soon as more than ``cap`` came out,
    _Flood as soon as more than ``flood_from`` bytes came out at more than MAX_RATIO times the bytes read."""
    pieces, total, crc, read = [], 0, 0, 0
    decompressor, chunks = _decompressor(info, _raw_member(fh, info), cap)
    for data in chunks:
        read += len(data)
        piece = decompressor.decompress(data, _STEP)
        while True:
            total += len(piece)
            if total > cap:
                raise _TooBig(total)
            if total > flood_from and total > MAX_RATIO * read:
                raise _Flood(total)
            crc = zlib.crc32(piece, crc)
            pieces.append(piece)
            if decompressor.eof or decompressor.needs_input:
                break
            piece = decompressor.decompress(b"", _STEP)
        if decompressor.eof:
            break
    if crc != info.CRC:
        raise zipfile.BadZipFile("CRC-32 mismatch: the member is damaged")
    return b"".join(pieces)


def _raw_member(fh: BinaryIO, info: zipfile.ZipInfo) -> Iterator[bytes]:
    """The member's compressed bytes, in pieces of at most 64 KiB."""
    fh.seek(info.header_offset)
    header = fh.read(30)
    if len(header) < 30 or header[:4] != b"PK\x03\x04":
        raise zipfile.BadZipFile("bad local file header")
    name_len, extra_len = struct.unpack_from("<2H", header, 26)
    fh.seek(info.header_offset + 30 + name_len + extra_len)
    left = info.compress_size
    while left > 0:
        data = fh.read(min(left, _STEP))
        if not data:
            raise EOFError("the archive ends inside this member")
        left -= len(data)
        yield data


class _Stored:
    """The decompressor interface (decompress with a maximum, eof, needs_input) for a stored member."""

    eof, needs_input = False, True

    def decompress(self, data: bytes, max_length: int) -> bytes:
        return data


class _Deflated:
    """zlib's raw inflate behind the interface of bz2's and lzma's decompressors."""

    def __init__(self) -> None:
        self._z = zlib.decompressobj(-15)
        self.needs_input = True

    @property
    def eof(self) -> bool:
        return self._z.eof

    def decompress(self, data: bytes, max_length: int) -> bytes:
        out = self._z.decompress(self._z.unconsumed_tail + data, max_length)
        self.needs_input = not self._z.unconsumed_tail and len(out) < max_length
        return out


def _decompressor(info: zipfile.ZipInfo, raw: Iterator[bytes], cap: int) -> tuple[Any, Iterator[bytes]]:
    """A decompressor for the member's method, and the compressed bytes to feed it."""
    if info.compress_type == zipfile.ZIP_STORED:
        return _Stored(), raw
    if info.compress_type == zipfile.ZIP_DEFLATED:
        return _Deflated(), raw
    if info.compress_type == zipfile.ZIP_BZIP2:
        return bz2.BZ2Decompressor(), raw
    return _lzma_decompressor(raw, cap)


def _lzma_decompressor(raw: Iterator[bytes], cap: int) -> tuple[lzma.LZMADecompressor, Iterator[bytes]]:
    """A zip LZMA member: a 4-byte header, the LZMA1 properties, then a raw stream.

    The dictionary never needs to be larger than what may come out (``cap``), so a member that
    claims a 4 GB dictionary does not get one.
    """
    head = b""
    while len(head) < 4 or len(head) < 4 + int.from_bytes(head[2:4], "little"):
        data = next(raw, b"")
        if not data:
            raise EOFError("truncated LZMA header")
        head += data
    size = int.from_bytes(head[2:4], "little")
    props = head[4 : 4 + size]
    if len(props) < 5 or props[0] >= 9 * 5 * 5:
        raise ValueError("bad LZMA properties")
    lc, lp, pb = props[0] % 9, props[0] // 9 % 5, props[0] // 45
    dict_size = max(4096, min(int.from_bytes(props[1:5], "little"), cap + 1))
    lzma1 = {"id": lzma.FILTER_LZMA1, "dict_size": dict_size, "lc": lc, "lp": lp, "pb": pb}
    return lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=[lzma1]), itertools.chain([head[4 + size :]], raw)
