"""Where musegen keeps what it can compute again: parsed files, the converted corpus.

``$MUSEGEN_CACHE_DIR``, or ``.cache/`` at the project root. Everything in it may be deleted.

The ingest cache (``ingest/``) keeps one entry per file decoded: its notes, tempo and tempo map, or the
reason it was skipped, under its content hash and what decides the result (:func:`cache_key`), so
ingesting an unchanged dataset again costs almost nothing.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

from musegen.config import DataConfig, Limits
from musegen.fileio import atomic_write_bytes
from musegen.notes import Piece
from musegen.paths import PROJECT_ROOT
from musegen.sources import decode

log = logging.getLogger("musegen.sources.ingest")  # the ingest's warnings, under its name as before

CACHE_VERSION = "3"  # 3: results carry the tempo map


def cache_dir() -> Path:
    """``$MUSEGEN_CACHE_DIR`` or ``.cache/`` at the project root."""
    env = os.environ.get("MUSEGEN_CACHE_DIR")
    return Path(env) if env else PROJECT_ROOT / ".cache"


# --------------------------------------------------------------------------- the ingest's content-hash cache


def cache_key(digest: str, cfg: DataConfig, limits: Limits) -> str:
    """Content hash + what decides the result: the decoder, the instrument filter, the sustain pedal and the
    per-file limits."""
    programs = ",".join(str(p) for p in sorted(cfg.programs))
    per_file = (limits.max_file_mb, limits.max_notes_per_file, limits.max_events_per_file, limits.max_beats_per_file)
    bounds = ",".join(str(n) for n in per_file)
    pedal = "pedal" if cfg.sustain_pedal else "no-pedal"
    tag = f"{CACHE_VERSION}|{decode.decoder_name()}|{cfg.instrument_filter}|{programs}|{bounds}|{pedal}"
    return f"{digest}-{hashlib.blake2b(tag.encode(), digest_size=4).hexdigest()}"


def cache_path(key: str) -> Path:
    """Where the entry ``key`` is kept: ``<cache_dir>/ingest/<key>.bin``."""
    return cache_dir() / "ingest" / f"{key}.bin"


def cache_get(key: str) -> tuple[Piece | None, str] | None:
    """One entry (:func:`musegen.sources.decode.pack`'s bytes: no pickle), or None when there is none."""
    path = cache_path(key)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("cannot read the cache entry %s: %s", path, exc)
        return None
    try:
        notes, tempo, reason, _, tempo_map = decode.unpack(raw)
    except ValueError as exc:
        log.warning("ignoring a damaged cache entry %s: %s", path, exc)
        return None
    if notes is None:
        return None, reason
    return Piece("", notes, tempo, tempo_map), ""


def cache_put(key: str, piece: Piece | None, reason: str) -> None:
    """Keep one result (a piece, or the reason it has none); a cache that cannot be written is only a warning."""
    if piece is None:
        blob = decode.pack(None, 0.0, reason)
    else:
        blob = decode.pack(piece.notes, piece.tempo, reason, tempo_map=piece.tempo_map)
    path = cache_path(key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, blob, durable=False)  # a lost cache entry is only re-parsed
    except OSError as exc:
        log.warning("cannot write the ingest cache in %s (%s); continuing without it", path.parent, exc)
