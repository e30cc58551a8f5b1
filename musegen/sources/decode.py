"""One MIDI file's bytes to notes in beats with the chosen decoder, and the byte format of a result.

Two decoders give the same notes and reasons: musegen's own SMF decoder followed by pretty_midi
(``smf``, :mod:`musegen.sources.smf_decode`), and symusic (``symusic``, :mod:`musegen.sources.symusic_decode`,
about 20 times faster);
``MUSEGEN_DECODER`` chooses, symusic by default where it is installed. :func:`decode_notes` is what a
decoding worker (:mod:`musegen.sources.sandbox`) runs for every file, and :func:`parse_midi` what runs
for the commands that need a whole ``PrettyMIDI``. Reasons raised here carry no file name; the callers
add it. :func:`pack` / :func:`unpack` are the one byte format for a result, shared by the worker's pipe
and the ingest cache (a JSON header, raw float64 notes and the tempo map: no pickle).
"""

from __future__ import annotations

import json
import os

import numpy as np

from musegen.config import DataConfig, Limits
from musegen.errors import ConfigError
from musegen.sources import symusic_decode
from musegen.sources.smf_decode import (
    MAX_TEMPO_ROWS,
    PIANO_PROGRAMS,
    check_header,
    decode_smf,
    parse_midi,
    scan_smf,
    sniff,
    tempo_rows,
)

__all__ = [
    "DECODERS",
    "MAX_TEMPO_ROWS",
    "PIANO_PROGRAMS",
    "check_header",
    "decode_notes",
    "decode_smf",
    "decoder_name",
    "pack",
    "parse_midi",
    "scan_smf",
    "sniff",
    "tempo_rows",
    "unpack",
]

MAGIC = b"MGC2"  # MGC1 had no tempo map
DECODERS = ("smf", "symusic")  # MUSEGEN_DECODER: musegen's own SMF decoder + pretty_midi, or symusic (C++)


def decoder_name() -> str:
    """The decoder ``MUSEGEN_DECODER`` names (``smf`` or ``symusic``); symusic by default where installed."""
    name = os.environ.get("MUSEGEN_DECODER", "").strip().lower() or ("symusic" if symusic_decode.available() else "smf")
    if name not in DECODERS:
        raise ConfigError(f"MUSEGEN_DECODER must be one of {', '.join(DECODERS)}, got {name!r}.")
    if name == "symusic" and not symusic_decode.available():
        raise ConfigError("MUSEGEN_DECODER=symusic, but symusic is not installed: pip install symusic, or unset it.")
    return name


def decode_notes(
    data: bytes, cfg: DataConfig, limits: Limits, decoder: str | None = None
) -> tuple[np.ndarray, float, np.ndarray]:
    """MIDI bytes to (notes in beats, first tempo in BPM, tempo map (K, 2) [beat, BPM]), keeping the parts
    the instrument filter selects, with ``decoder`` (``smf`` or ``symusic``; by default :func:`decoder_name`'s).
    Both give the same notes, tempo maps and reasons (see :mod:`musegen.sources.symusic_decode` for the few
    differences). The tempo map is the first track's, as pretty_midi reads it: sorted, the first row at beat
    0, one row per change, at most MAX_TEMPO_ROWS."""
    if (decoder or decoder_name()) == "symusic":
        return symusic_decode.decode_symusic(data, cfg, limits)
    return decode_smf(data, cfg, limits)


# --------------------------------------------------------------------------- one result as bytes


def pack(
    notes: np.ndarray | None,
    tempo: float,
    reason: str,
    *,
    final: bool = True,
    tempo_map: np.ndarray | None = None,
) -> bytes:
    """A result as bytes: magic, a JSON header (tempo, reason, final, note and tempo-row counts), raw
    little-endian notes, then the raw tempo map."""
    rows = notes if notes is not None else np.zeros((0, 4))
    tm = np.zeros((0, 2)) if tempo_map is None or notes is None else np.asarray(tempo_map).reshape(-1, 2)
    header = json.dumps({"tempo": tempo, "reason": reason, "final": final, "n": len(rows), "k": len(tm)}).encode()
    body = rows.astype("<f8").tobytes() + tm.astype("<f8").tobytes()
    return MAGIC + len(header).to_bytes(4, "little") + header + body


def unpack(blob: bytes) -> tuple[np.ndarray | None, float, str, bool, np.ndarray | None]:
    """(notes or None, tempo, reason, final, tempo map or None) from :func:`pack`'s bytes; ValueError when
    they are damaged (or of an older format)."""
    try:
        if blob[:4] != MAGIC:
            raise ValueError("bad magic (damaged, or written by an older musegen)")
        size = int.from_bytes(blob[4:8], "little")
        header = json.loads(blob[8 : 8 + size])
        n, k = int(header["n"]), int(header["k"])
        if n < 0 or k < 0 or len(blob) != 8 + size + 8 * (4 * n + 2 * k):
            raise ValueError("truncated")
        values = np.frombuffer(blob, dtype="<f8", offset=8 + size)
        notes, tm = values[: 4 * n].reshape(-1, 4), values[4 * n :].reshape(-1, 2)
        reason, tempo, final = str(header["reason"]), float(header["tempo"]), bool(header.get("final", True))
    except (KeyError, TypeError) as exc:
        raise ValueError(f"damaged result ({exc})") from exc
    if reason:
        return None, tempo, reason, final, None
    return notes.astype(np.float64), tempo, "", final, (tm.astype(np.float64) if len(tm) else None)
