"""Piano-roll benchmark files: the ``.mat`` sets of Boulanger-Lewandowski, Bengio and Vincent (ICML 2012).

JSB Chorales, Nottingham, MuseData and Piano-midi.de as ``.mat`` files with ``traindata``,
``validdata`` and ``testdata``, each a (1, N) object array of (T, 88) 0/1 piano-roll pieces
(column k = MIDI pitch 21 + k). :func:`load_mat` reads any of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from musegen.errors import DatasetError
from musegen.notes import PIANO_KEYS as N_KEYS

SPLITS = ("traindata", "validdata", "testdata")


@dataclass
class PolyphonicData:
    """The three splits of a piano-roll benchmark file, (T, 88) uint8 per piece."""

    name: str
    train: list[np.ndarray]
    valid: list[np.ndarray]
    test: list[np.ndarray]

    def summary(self) -> dict[str, Any]:
        return {
            split: {"pieces": len(pieces), "frames": int(sum(len(p) for p in pieces))}
            for split, pieces in (("train", self.train), ("valid", self.valid), ("test", self.test))
        }


def load_mat(path: str | Path) -> PolyphonicData:
    """Read a benchmark ``.mat`` (JSB_Chorales, Nottingham, MuseData, Piano_midi); DatasetError if it is not one."""
    import scipy.io

    path = Path(path)
    if not path.is_file():
        raise DatasetError(
            f"no piano-roll benchmark file at {path}; pass --data with a .mat of the polyphonic benchmark "
            "(JSB_Chorales.mat, Nottingham.mat, MuseData.mat, Piano_midi.mat)."
        )
    try:
        mat = scipy.io.loadmat(str(path))
    except (scipy.io.matlab.MatReadError, ValueError, OSError, TypeError, NotImplementedError) as exc:
        raise DatasetError(f"{path} is not a readable MATLAB .mat file ({exc}).") from exc
    missing = [s for s in SPLITS if s not in mat]
    if missing:
        raise DatasetError(f"{path} has no {', '.join(missing)}: it is not a polyphonic benchmark file.")
    splits = [[_piece(p, path, split) for p in np.asarray(mat[split]).ravel()] for split in SPLITS]
    for split, pieces in zip(SPLITS, splits, strict=True):
        if not any(len(p) >= 2 for p in pieces):
            raise DatasetError(f"{path}: {split} has no piece with two frames or more; nothing to predict.")
    return PolyphonicData(path.stem, *splits)


def _piece(raw: Any, path: Path, split: str) -> np.ndarray:
    arr = np.asarray(raw)
    if arr.ndim != 2 or arr.shape[1] != N_KEYS:
        raise DatasetError(f"{path}: a piece of {split} has shape {arr.shape}, not (T, {N_KEYS}).")
    if arr.size and not np.isin(arr, (0, 1)).all():
        raise DatasetError(f"{path}: a piece of {split} holds values other than 0 and 1.")
    return arr.astype(np.uint8)
