"""A token store's tempo maps: every piece's [beat, BPM] rows in one flat, memory-mapped array.

::

    tempos.bin         float64 rows [beat, BPM], every piece's tempo map one after another, little-endian;
                       at least one row a piece (one tempo throughout is the row [0, BPM])
    tempo_offsets.bin  int64 (pieces + 1): piece i's map is tempos[tempo_offsets[i]:tempo_offsets[i + 1]]
    bpm.bin            float64 per piece: the tempo it plays at decoded from its ids (the mean of its map
                       over the piece, or the representation's fixed decoding tempo:
                       ``Representation.playback_tempo``), what a run's pieces.json records

A piece of one tempo costs 32 bytes (one row, its offset, its tempo). :class:`TempoWriter` appends them
as pieces are stored (:class:`~musegen.streams.store.StoreWriter`); :class:`StoreTempos` reads them
(:class:`~musegen.streams.store.TokenStore`), sizes checked against the manifest's ``tempo_rows``. A
store from before tempo maps were kept has no ``tempo_rows``: it opens, and every piece reads as
:data:`~musegen.notes.DEFAULT_TEMPO` throughout (``StoreTempos.kept`` is False).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from musegen.errors import DatasetError
from musegen.notes import DEFAULT_TEMPO, as_tempo_map

TEMPOS, TEMPO_OFFSETS, BPM = "tempos.bin", "tempo_offsets.bin", "bpm.bin"
ROWS = "tempo_rows"  # the manifest's count of tempos.bin's rows; absent from stores without tempo maps


class TempoWriter:
    """Appends each piece's tempo map and tempo to a store being written (three files open for writing)."""

    def __init__(self, path: Path) -> None:
        """Opens the files under ``path``; OSError as ``open`` raises it (the store's writer words it)."""
        self.files = [(path / name).open("wb") for name in (TEMPOS, TEMPO_OFFSETS, BPM)]
        self.files[1].write(np.zeros(1, "<i8").tobytes())
        self.n_rows = 0

    def add(self, tempo_map: np.ndarray | None, tempo: float | None) -> None:
        """One piece's map ((K, 2) [beat, BPM]; None: ``tempo`` throughout) and the tempo it plays at
        (default: its map's first)."""
        rows = as_tempo_map(tempo_map, tempo or DEFAULT_TEMPO)
        tempos, offsets, bpm = self.files
        tempos.write(rows.astype("<f8").tobytes())
        self.n_rows += len(rows)
        offsets.write(np.asarray([self.n_rows], "<i8").tobytes())
        bpm.write(np.asarray([rows[0, 1] if tempo is None else tempo], "<f8").tobytes())

    def close(self) -> None:
        for fh in self.files:
            fh.close()


class StoreTempos:
    """A finished store's tempo maps, memory-mapped (nothing read until a piece's map is asked for)."""

    def __init__(self, path: Path, manifest: dict[str, Any], n_pieces: int) -> None:
        """DatasetError when the manifest counts tempo rows the files do not hold."""
        self.path = path
        self.kept = ROWS in manifest
        if not self.kept:
            self.tempos = self.offsets = self.bpm = None
            return
        rows = manifest[ROWS]
        if isinstance(rows, bool) or not isinstance(rows, int) or rows < n_pieces:
            raise DatasetError(
                f"{path / 'manifest.json'} counts {rows!r} tempo rows for {n_pieces:,} pieces (at least one a "
                "piece); the manifest is damaged. Ingest the store again."
            )
        for name, size in ((TEMPOS, rows * 16), (TEMPO_OFFSETS, (n_pieces + 1) * 8), (BPM, n_pieces * 8)):
            check_size(path / name, size)
        self.tempos = np.memmap(path / TEMPOS, "<f8", "r", shape=(rows, 2))
        self.offsets = read_offsets(path / TEMPO_OFFSETS, rows, "tempo maps")
        self.bpm = np.memmap(path / BPM, "<f8", "r", shape=(n_pieces,))

    def tempo_map(self, i: int) -> np.ndarray:
        """Piece ``i``'s map, (K, 2) float64 [beat, BPM] from beat 0, exactly as ingested; ``[[0,
        DEFAULT_TEMPO]]`` without tempo maps. DatasetError when tempos.bin holds no valid map for it."""
        if self.tempos is None or self.offsets is None:
            return np.array([[0.0, DEFAULT_TEMPO]])
        rows = np.array(self.tempos[self.offsets[i] : self.offsets[i + 1]], dtype=np.float64)
        beats, bpm = rows[:, 0], rows[:, 1]
        if not (np.isfinite(rows).all() and beats[0] == 0 and np.all(np.diff(beats) > 0) and np.all(bpm > 0)):
            raise DatasetError(
                f"{self.path / TEMPOS} holds no valid tempo map for piece {i} (its beats must rise from 0 and its "
                "tempos be positive): the store was changed or damaged after its ingest. Ingest it again."
            )
        return rows

    def tempo(self, i: int) -> float:
        """The tempo (BPM) piece ``i`` plays at decoded; DEFAULT_TEMPO without tempo maps."""
        if self.bpm is None:
            return DEFAULT_TEMPO
        bpm = float(self.bpm[i])
        if not (np.isfinite(bpm) and bpm > 0):
            raise DatasetError(
                f"{self.path / BPM} gives piece {i} a tempo of {bpm} BPM: the store was changed or damaged after "
                "its ingest. Ingest it again."
            )
        return bpm


def check_size(file: Path, size: int) -> None:
    """DatasetError unless the store's ``file`` holds ``size`` bytes, as its manifest says."""
    actual = file.stat().st_size if file.is_file() else -1
    if actual != size:
        held = "is missing" if actual < 0 else f"holds {actual:,} bytes"
        raise DatasetError(
            f"{file} {held} where the manifest says {size:,} bytes: the store was changed or damaged after its "
            "ingest. Ingest it again."
        )


def read_offsets(file: Path, total: int, what: str) -> np.ndarray:
    """An offsets file (int64, pieces + 1 of them): from 0 to ``total``, one entry or more a piece."""
    offsets = np.fromfile(file, "<i8")
    if offsets[0] != 0 or offsets[-1] != total or np.any(np.diff(offsets) < 1):
        raise DatasetError(f"{file} does not index the {what}; ingest the store again.")
    return offsets
