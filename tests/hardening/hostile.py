"""Hostile inputs built in code (the cases of the second hardening round), and a way to run one
in a subprocess under memory and CPU limits, so a regression fails its test instead of the machine."""

from __future__ import annotations

import base64
import json
import os
import struct
import subprocess
import sys
import textwrap
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from tests.midi_factory import raw_midi

ROOT = Path(__file__).resolve().parents[2]
MB = 1024 * 1024
NOTE = b"\x00\x90\x3c\x40\x83\x60\x80\x3c\x00"  # one quarter note (at 480 ticks per beat)
END = b"\x00\xff\x2f\x00"

# 512 MiB of zeros as one bzip2 stream (bz2.BZ2Compressor(9) fed 32 x 16 MiB of zeros): 402 bytes.
BZIP2_512_MIB_OF_ZEROS = base64.b64decode(
    "QlpoOTFBWSZTWQ4J4t8BX45AAMAAAAggADCATUZCoCWpCoCXMUFZJlNZDgni3wFfjkAAwAAACCAAMIBNRkKgJakKgJcxQVkmU1kO"
    "CeLfAV+OQADAAAAIIAAwgE1GQqAlqQqAlzFBWSZTWQ4J4t8BX45AAMAAAAggADCATUZCoCWpCoCXMUFZJlNZDgni3wFfjkAAwAAA"
    "CCAAMIBNRkKgJakKgJcxQVkmU1kOCeLfAV+OQADAAAAIIAAwgE1GQqAlqQqAlzFBWSZTWQ4J4t8BX45AAMAAAAggADCATUZCoCWp"
    "CoCXMUFZJlNZDgni3wFfjkAAwAAACCAAMIBNRkKgJakKgJcxQVkmU1kOCeLfAV+OQADAAAAIIAAwgE1GQqAlqQqAlzFBWSZTWQ4J"
    "4t8BX45AAMAAAAggADCATUZCoCWpCoCXMUFZJlNZDgni3wFfjkAAwAAACCAAMIBNRkKgJakKgJcxQVkmU1kCGMe7APTw4ADAAAAE"
    "AAggADDMCapplUFIbVKgpDxdyRThQkIPy1I4"
)
BZIP2_512_MIB_CRC = 0x6DB88320


# ------------------------------------------------------------------ zips


def raw_zip(members: list[tuple[str, int, bytes, int, int]], flags: int = 0) -> bytes:
    """A zip of already compressed members: (name, method, compressed bytes, CRC-32, unpacked size)."""
    local, central = b"", b""
    for name, method, data, crc, size in members:
        raw = name.encode()
        fields = (20, flags, method, 0, 0x21, crc, len(data), min(size, 0xFFFFFFFF), len(raw), 0)
        central += b"PK\x01\x02" + struct.pack("<HHHHHHLLLHHHHHLL", 20, *fields, 0, 0, 0, 0, len(local)) + raw
        local += b"PK\x03\x04" + struct.pack("<HHHHHLLLHH", *fields) + raw + data
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(members), len(members), len(central), len(local), 0)
    return local + central + end


def bzip2_bomb_zip() -> bytes:
    """A 785-byte zip of one bzip2 member that unpacks to 512 MiB of zeros (the issue's first case)."""
    return raw_zip([("zeros.mid", zipfile.ZIP_BZIP2, BZIP2_512_MIB_OF_ZEROS, BZIP2_512_MIB_CRC, 512 * MB)])


def zeros_zip(method: int, mb: int) -> bytes:
    """A zip of one member of ``mb`` MiB of zeros compressed with ``method``, written in pieces."""
    import io

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=method) as zf, zf.open("zeros.mid", "w") as fh:
        for _ in range(mb):
            fh.write(bytes(MB))
    return buf.getvalue()


def many_entries_zip(entries: int, claimed: int | None = None) -> bytes:
    """A zip of one empty member whose central directory lists it ``entries`` times; its end record claims
    ``claimed`` entries (with zip64 records when the count does not fit 16 bits)."""
    local = b"PK\x03\x04" + struct.pack("<HHHHHLLLHH", 20, 0, 0, 0, 0x21, 0, 0, 0, 1, 0) + b"a"
    entry = b"PK\x01\x02" + struct.pack("<HHHHHHLLLHHHHHLL", 20, 20, 0, 0, 0, 0x21, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0) + b"a"
    directory = entry * entries
    count = entries if claimed is None else claimed
    small, tail = min(count, 0xFFFF), b""
    if count > 0xFFFF:
        at = len(local) + len(directory)
        record = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, len(directory), len(local))
        tail = record + struct.pack("<4sLQL", b"PK\x06\x07", 0, at, 1)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, small, small, len(directory), len(local), 0)
    return local + directory + tail + end


def encrypted_zip(data: bytes) -> bytes:
    """A zip of one member marked as encrypted (general-purpose flag bit 0, as a password-protected zip)."""
    return raw_zip([("secret.mid", zipfile.ZIP_STORED, data, zlib.crc32(data), len(data))], flags=0x1)


def empty_zip() -> bytes:
    import io

    buf = io.BytesIO()
    zipfile.ZipFile(buf, "w").close()
    return buf.getvalue()


# ------------------------------------------------------------------ MIDI


def long_delta_midi(continuation_bytes: int) -> bytes:
    """A delta time written with ``continuation_bytes`` continuation bytes before the note (a 5+-byte VLQ
    costs the square of its length in a decoder without a cap)."""
    return raw_midi(b"\x81" * continuation_bytes + b"\x00" + NOTE[1:] + END)


def long_meta_length_midi() -> bytes:
    """A text meta event whose length is written in 5 bytes."""
    return raw_midi(b"\x00\xff\x01\x80\x80\x80\x80\x01x" + NOTE + END)


def four_byte_vlq_midi() -> bytes:
    """A delta time and a meta length written in 4 bytes (non-minimal, still valid Standard MIDI)."""
    return raw_midi(b"\x80\x80\x80\x00\xff\x01\x80\x80\x80\x01x" + NOTE + END)


def flood_midi(kind: str, mb: float = 9.9) -> bytes:
    """About ``mb`` MB of events the note limit does not count, and one note."""
    n = int(mb * MB)
    body = {
        "program-changes": b"\x00\xc0\x01" + b"\x00\x02\x00\x01" * (n // 4),
        "note-offs": b"\x00\x80\x3c\x00" + b"\x00\x3c\x00" * (n // 3),
        "velocity-0-note-ons": b"\x00\x90\x3c\x00" + b"\x00\x3c\x00" * (n // 3),
        "time-signatures": b"\x00\xff\x58\x04\x03\x02\x18\x08" * (n // 8),
        "tempo-changes": b"".join(b"\x01\xff\x51\x03" + t for t in (b"\x07\xa1\x20", b"\x06\x1a\x80")) * (n // 14),
        "track-names": b"".join(b"\x00\xff\x03\x01" + c for c in (b"a", b"b")) * (n // 10),
        "controllers": b"\x00\xb0\x40\x7f" + b"\x00\x40\x00" * (n // 3),
    }[kind]
    return raw_midi(body + NOTE + END)


FLOODS = ("program-changes", "note-offs", "velocity-0-note-ons", "time-signatures", "tempo-changes", "track-names")
FLOODS += ("controllers",)


def long_piece_midi(beats: int, division: int = 960) -> bytes:
    """One half-beat note a beat for ``beats`` beats at ``division`` ticks per beat (12,000 at 960: the
    issue's valid 100-minute piece at 120 BPM)."""
    half = _vlq(division // 2)
    on, off = b"\x90\x3c\x40", b"\x80\x3c\x00"
    body = b"\x00" + on + half + off + (half + on + half + off) * (beats - 1) + END
    return raw_midi(body, division=division)


def _vlq(value: int) -> bytes:
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | value & 0x7F)
        value >>= 7
    return bytes(reversed(out))


def nested_folders(root: Path, depth: int) -> Path:
    """``root``/d/d/.../d, ``depth`` levels (os.makedirs recurses; this does not); the deepest folder."""
    folder = root
    for _ in range(depth):
        folder = folder / "d"
        folder.mkdir()
    return folder


def remove_tree(root: Path) -> None:
    """shutil.rmtree without recursion: a tree 1,000 deep is more than it (and pytest's clean-up) can take."""
    folders, stack = [], [str(root)]
    while stack:
        folder = stack.pop()
        folders.append(folder)
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                else:
                    os.unlink(entry.path)
    for folder in reversed(folders):
        os.rmdir(folder)


# ------------------------------------------------------------------ running under limits


@dataclass
class Limited:
    returncode: int
    stdout: str
    stderr: str
    grew_mb: float  # peak resident memory above the size after the imports
    peak_mb: float  # peak resident memory of the whole process
    cpu_s: float  # CPU time of the case itself
    result: object  # what the case printed as JSON on its last line starting with "RESULT "


def run_limited(case: str, *, imports: str, memory_mb: int, cpu_s: int, timeout: float = 120) -> Limited:
    """Run ``case`` (Python) in a subprocess after ``imports``, with its address space capped at the size
    after the imports plus ``memory_mb`` and its CPU time at ``cpu_s``: over either, it dies or raises.

    The case calls ``report(result)`` at the end (and ``mark()`` to measure memory from a later point)."""
    script = textwrap.dedent(
        """
        import json, os, resource, sys, time
        {imports}
        def _status(key):  # this process image's own figures (ru_maxrss would include the parent's before exec)
            with open("/proc/self/status") as fh:
                return next(int(line.split()[1]) for line in fh if line.startswith(key)) / 1024
        def mark():  # the peak resident size is measured from here (call it again after building the input)
            global _rss0
            with open("/proc/self/clear_refs", "w") as fh:
                fh.write("5")
            _rss0 = _status("VmRSS:")
        mark()
        _cap = int(_status("VmSize:") * 1024 * 1024) + {memory_mb} * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (_cap, _cap))
        _u = resource.getrusage(resource.RUSAGE_SELF)
        _cpu0 = _u.ru_utime + _u.ru_stime
        resource.setrlimit(resource.RLIMIT_CPU, (int(_cpu0) + {cpu_s}, int(_cpu0) + {cpu_s} + 1))
        def report(result):
            u, peak = resource.getrusage(resource.RUSAGE_SELF), _status("VmHWM:")
            stats = {{"grew_mb": peak - _rss0, "peak_mb": peak, "cpu_s": u.ru_utime + u.ru_stime - _cpu0}}
            print("RESULT " + json.dumps({{"stats": stats, "result": result}}), flush=True)
        """
    ).format(imports=imports, memory_mb=memory_mb, cpu_s=cpu_s)
    script += textwrap.dedent(case)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    missing = {"grew_mb": -1, "peak_mb": -1, "cpu_s": -1}
    payload = json.loads(lines[-1][7:]) if lines else {"stats": missing, "result": None}
    stats = payload["stats"]
    return Limited(
        proc.returncode, proc.stdout, proc.stderr, stats["grew_mb"], stats["peak_mb"], stats["cpu_s"], payload["result"]
    )
