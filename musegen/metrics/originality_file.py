"""An originality index on disk: a corpus's passages, compact, read back with bounds on every array.

A base model's corpus holds millions of notes that a fresh clone does not have (the token store is
rebuilt, not shipped), so the pretraining command writes what the originality check needs beside the
model: per note its onset on the grid (int32 ticks) and its pitch (uint8), per piece its name and where
its notes start. That is 5 bytes a note before compression (about 4 MB for the two million notes of
the pretraining corpus); the passage symbols are computed again on reading, exactly as
:func:`musegen.metrics.originality.passage_symbols` makes them. The file is an ``.npz`` read with
``allow_pickle=False``; a file that is too large, or whose arrays disagree, is refused with the reason.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np

from musegen.errors import ModelLoadError
from musegen.fileio import atomic_write_bytes
from musegen.metrics.originality import OriginalityIndex

FORMAT = "musegen-originality-v1"
MAX_FILE_BYTES = 64 * 1024 * 1024  # compressed; a corpus of about 15 million notes
MAX_NOTES = 50_000_000
ARRAYS = ("format", "grid", "max_delta_beats", "names", "note_offsets", "ticks", "pitches")


def save_index(index: OriginalityIndex, path: str | Path) -> Path:
    """Write ``index`` to ``path`` (atomically); the path."""
    ticks = np.rint(index.onsets * index.grid).astype(np.int32)
    buf = io.BytesIO()
    np.savez_compressed(
        buf,
        format=np.array(FORMAT),
        grid=np.array([index.grid], np.int32),
        max_delta_beats=np.array([index.max_delta_beats], np.float64),
        names=np.array(index.names, dtype=str),
        note_offsets=index.note_offsets.astype(np.int64),
        ticks=ticks,
        pitches=index.pitches.astype(np.uint8),
    )
    atomic_write_bytes(Path(path), buf.getvalue())
    return Path(path)


def load_index(path: str | Path) -> OriginalityIndex:
    """The index stored at ``path``; ModelLoadError saying what is wrong with a damaged or foreign file."""
    path = Path(path)
    if not path.is_file():
        raise ModelLoadError(f"{path} is missing: no originality index of the base model's corpus.")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ModelLoadError(f"{path} is larger than {MAX_FILE_BYTES // 2**20} MB; it is not an originality index.")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in ARRAYS}
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as exc:
        raise ModelLoadError(f"{path} cannot be read as an originality index ({exc}).") from exc
    return _index(path, arrays)


def _index(path: Path, a: dict[str, np.ndarray]) -> OriginalityIndex:
    """The index of the arrays read from ``path``, once they are checked against each other."""
    if str(a["format"]) != FORMAT:
        raise ModelLoadError(f"{path} is not a {FORMAT} file.")
    offsets, ticks, pitches, names = a["note_offsets"], a["ticks"], a["pitches"], a["names"]
    n = len(ticks)
    ok = (
        n <= MAX_NOTES
        and len(pitches) == n
        and offsets.ndim == 1
        and len(offsets) == len(names) + 1
        and offsets[0] == 0
        and offsets[-1] == n
        and bool(np.all(np.diff(offsets) >= 1))
    )
    if not ok:
        raise ModelLoadError(f"{path} is damaged: its pieces, onsets and pitches do not agree.")
    grid, max_delta = int(a["grid"][0]), float(a["max_delta_beats"][0])
    onsets = ticks.astype(np.float64) / grid
    pitch = pitches.astype(np.int64)
    max_ticks = max(1, round(max_delta * grid))
    steps = np.clip(np.diff(ticks.astype(np.int64)), 0, max_ticks)
    symbols = (np.clip(np.diff(pitch), -127, 127) + 127) * (max_ticks + 1) + steps
    first = offsets[1:-1] - 1  # the step from a piece's last note to the next piece's first is no symbol
    symbols = np.delete(symbols, first) if len(symbols) else symbols
    return OriginalityIndex(
        [str(x) for x in names], offsets.astype(np.int64), onsets, pitch.astype(np.int16), symbols.astype(np.int64),
        grid=grid, max_delta_beats=max_delta,
    )  # fmt: skip
