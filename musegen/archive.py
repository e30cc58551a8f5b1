"""Safe reading of zip archives of MIDI files, entirely in memory.

Nothing is written to disk, so a member name cannot escape a folder; names that try
(``../x.mid``, ``/etc/x.mid``) are still refused and reported, as are symlinks, nested
archives and anything over the limits (member count, member size, total unpacked
size: the zip-bomb guard counts bytes actually inflated, not the sizes the archive claims).
"""

from __future__ import annotations

import io
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from musegen.config import Limits
from musegen.errors import UploadError

MIDI_SUFFIXES = (".mid", ".midi", ".smf", ".kar")
_MB = 1024 * 1024


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
    """The MIDI members of a zip, with a reason for every entry that was not taken."""
    limits = limits or Limits.from_env()
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError) as exc:
        raise UploadError(f"{archive_name} is not a readable zip archive ({exc}). Re-create it and try again.") from exc
    infos = [i for i in zf.infolist() if not i.is_dir()]
    if len(infos) > limits.max_zip_members:
        raise UploadError(
            f"{archive_name} has {len(infos)} entries; the limit is {limits.max_zip_members}. "
            "Split it into smaller archives (or raise MUSEGEN_MAX_ZIP_MEMBERS)."
        )
    out = ZipContents()
    budget = limits.max_unpacked_mb * _MB
    for info in infos:
        name = info.filename
        reason = _member_reason(info)
        if reason:
            out.skipped.append((name, reason))
            continue
        cap = min(limits.max_file_mb * _MB, budget)
        try:
            payload = _inflate(zf, info, cap)
        except _TooBig as big:
            budget -= big.inflated  # skipped members count too: inflating them is the work a bomb asks for
            if cap < limits.max_file_mb * _MB or budget <= 0:
                raise UploadError(
                    f"{archive_name} unpacks to more than {limits.max_unpacked_mb} MB (a zip bomb?). "
                    "Upload a smaller archive."
                ) from None
            out.skipped.append((name, f"over the size limit of {limits.max_file_mb} MB"))
            continue
        except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError) as exc:
            out.skipped.append((name, f"unreadable zip member ({exc})"))
            continue
        budget -= len(payload)
        out.members.append((name, payload))
    return out


class _TooBig(Exception):
    def __init__(self, inflated: int):
        super().__init__(inflated)
        self.inflated = inflated  # bytes inflated before giving up


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
    return None


def _inflate(zf: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int) -> bytes:
    """Read one member, stopping as soon as more than ``cap`` bytes come out."""
    chunks, total = [], 0
    with zf.open(info) as fh:
        while chunk := fh.read(64 * 1024):
            total += len(chunk)
            if total > cap:
                raise _TooBig(total)
            chunks.append(chunk)
    return b"".join(chunks)
