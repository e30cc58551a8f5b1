"""A run's data: the token split in ``data.npz`` (read with limits), the pieces' names and tempos
in ``pieces.json``, and ``store.json`` for a run trained from a token store (whose pieces' tempo maps
are read from the store: :func:`store_tempo_maps`)."""

from __future__ import annotations

import io
import math
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from musegen.errors import ConfigError, DatasetError, RunNotFoundError
from musegen.fileio import atomic_write_bytes, atomic_write_json
from musegen.representations.registry import for_vocab
from musegen.runs.layout import DATA, DATA_MEMBERS, MAX_DATA_BYTES, MB, PIECES, STORE, VOCAB, read_json
from musegen.streams.store import TRAIN, VAL, TokenStore, load_store_dataset, open_store
from musegen.vocabulary import Vocabulary


@dataclass
class StoredDataset:
    """The token split saved with a run: what ``training.train`` and evaluation need of a SequenceDataset."""

    vocab: Vocabulary
    train: list[np.ndarray]
    val: list[np.ndarray]


def save_dataset(
    path: str | Path,
    train: list[np.ndarray],
    val: list[np.ndarray],
    names: tuple[list[str], list[str]] | None = None,
    *,
    tempos: tuple[list[float], list[float]] | None = None,
) -> None:
    """Store the token ids of the split as ``data.npz`` (flat ids + lengths, no pickle), and the
    pieces' names, when given as (train names, validation names), as ``pieces.json``, with the tempo each
    piece plays at (``train_tempo``, ``val_tempo``: BPM) when ``tempos`` holds one per piece.

    Token ids are stored as int32; piano-roll frames ((T, 88) arrays of 0 and 1) as uint8, one byte a key.
    """
    arrays: dict[str, np.ndarray] = {}
    for split, seqs in (("train", train), ("val", val)):
        lengths = np.array([len(s) for s in seqs], dtype=np.int64)
        dtype = np.uint8 if seqs and np.ndim(seqs[0]) == 2 else np.int32  # frames: 0/1 keys
        flat = np.concatenate([np.asarray(s, dtype=dtype) for s in seqs]) if seqs else np.zeros(0, np.int32)
        flat = np.ascontiguousarray(flat)  # C order (frames read from a .mat file come in Fortran order)
        arrays[f"{split}_ids"], arrays[f"{split}_lengths"] = flat, lengths
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    atomic_write_bytes(Path(path) / DATA, buf.getvalue())
    if names is not None:
        record: dict[str, list] = {"train": list(names[0]), "val": list(names[1])}
        if tempos is not None and len(tempos[0]) == len(train) and len(tempos[1]) == len(val):
            record["train_tempo"] = [float(t) for t in tempos[0]]
            record["val_tempo"] = [float(t) for t in tempos[1]]
        atomic_write_json(Path(path) / PIECES, record)


def save_store_reference(path: str | Path, reference: dict[str, Any]) -> None:
    """Record the token store a run trains from (``TokenStore.reference()``: path, manifest hash, counts)."""
    atomic_write_json(Path(path) / STORE, reference)


def store_reference(path: str | Path) -> dict[str, Any] | None:
    """The run's store.json (path, manifest_hash, counts), or None for a run trained from files."""
    ref = read_json(Path(path) / STORE, default=None)
    if ref is None:
        return None
    if not isinstance(ref, dict) or not all(isinstance(ref.get(k), str) for k in ("path", "manifest_hash")):
        raise RunNotFoundError(f"{Path(path) / STORE} does not name a token store; the run folder is damaged.")
    return ref


def training_dataset(path: str | Path) -> Any:
    """What a run resumes on: its token store, when it trained from one (checked against the manifest hash
    it recorded), else the split stored in its data.npz (:func:`load_dataset`)."""
    path = Path(path)
    ref = store_reference(path)
    if ref is None:
        return load_dataset(path)
    store = open_store(ref["path"])  # the corpus of a store run is in its store, not in the run folder
    if store.manifest_hash != ref["manifest_hash"]:
        raise ConfigError(
            f"the store {ref['path']} was ingested again since run {path.name} trained on it; resuming would "
            "train on other data. Start a new run from the store instead."
        )
    return load_store_dataset(store, fim=Vocabulary.load(path / VOCAB).fim_ids() is not None)


def piece_names(path: str | Path) -> dict[str, list[str]]:
    """{"train": [...], "val": [...]}: the names of a run's stored pieces, or {} when it has none."""
    try:
        names = read_json(Path(path) / PIECES, default={})
    except RunNotFoundError:
        return {}  # the names are for people: a damaged file only costs the labels
    if not isinstance(names, dict):
        return {}
    return {
        split: [str(n)[:200] for n in names[split]]
        for split in ("train", "val")
        if isinstance(names.get(split), list) and all(isinstance(n, str) for n in names[split])
    }


def piece_tempos(path: str | Path) -> dict[str, list[float]]:
    """{"train": [...], "val": [...]}: the tempo (BPM) each stored piece plays at, or {} when the run did not
    record them (runs from before tempos were kept, and the demo models, play at the page's default)."""
    try:
        record = read_json(Path(path) / PIECES, default={})
    except RunNotFoundError:
        return {}
    if not isinstance(record, dict):
        return {}
    out = {}
    for split in ("train", "val"):
        values = record.get(f"{split}_tempo")
        if isinstance(values, list) and all(isinstance(t, int | float) and 20 <= t <= 400 for t in values):
            out[split] = [float(t) for t in values]
    return out


@dataclass
class StoreTempoMaps:
    """The tempo maps of a store run's stored pieces, read from its store when asked for (memory-mapped)."""

    store: TokenStore
    indices: dict[str, np.ndarray]  # "train", "val": the store's index of each piece of the run's sample

    def tempo_map(self, split: str, k: int) -> np.ndarray | None:
        """The map ((K, 2) [beat, BPM]) of piece ``k`` of ``split`` in the run's data.npz; None past its end."""
        index = self.indices.get(split, np.zeros(0, np.int64))
        return self.store.tempo_map(int(index[k])) if 0 <= k < len(index) else None


def store_tempo_maps(path: str | Path) -> StoreTempoMaps | None:
    """Where a run trained from a token store finds its stored pieces' tempo maps: in the store, which keeps
    each piece's whole map (the run folder keeps only the tempo each plays at, in pieces.json). None for a
    run trained from files, and where the store is gone, was ingested again, or keeps no tempo maps; a split
    whose stored names are not the store's sample (a run of another musegen) is left out."""
    path = Path(path)
    try:
        ref = store_reference(path)
        store = open_store(ref["path"]) if ref is not None else None
    except (RunNotFoundError, DatasetError):
        return None  # the tempo maps only refine the seeds' tempo: the pieces' mean tempos stand
    if store is None or ref is None or store.manifest_hash != ref["manifest_hash"] or not store.has_tempos:
        return None
    names, indices = piece_names(path), {}
    for split, side in (("train", TRAIN), ("val", VAL)):
        chosen = store.sample_indices(side)
        if [n[:200] for n in store.names(chosen)] == names.get(split):
            indices[split] = chosen
    return StoreTempoMaps(store, indices)


def load_dataset(path: str | Path) -> StoredDataset:
    """The vocabulary and train/validation token ids (int32) or frames (uint8) stored with a run.

    Frames stored as int32 (run folders written before frames were stored as uint8) load the same.
    """
    path = Path(path)
    file = path / DATA
    if not file.is_file():
        raise RunNotFoundError(f"run {path.name} has no {DATA} (its training never started); train it again.")
    vocab = Vocabulary.load(path / VOCAB)
    rep = for_vocab(vocab)
    width = rep.output_width()
    try:
        arrays = _read_npz(file)
        splits = {s: _split(arrays[f"{s}_ids"], arrays[f"{s}_lengths"], len(vocab), width) for s in ("train", "val")}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise RunNotFoundError(f"{file} is damaged ({str(exc)[:300]}); train the run again.") from exc
    train = splits["train"]
    if rep.transposes_on_the_fly:
        # piano-roll runs written before transposition moved into the training pipeline stored every
        # transposed copy ("name (+2)"); the pipeline makes them again, so each piece is kept once
        names = piece_names(path).get("train", [])
        if len(names) == len(train):
            train = [seq for seq, name in zip(train, names, strict=True) if not _TRANSPOSED.search(name)]
    return StoredDataset(vocab=vocab, train=train, val=splits["val"])


_TRANSPOSED = re.compile(r" \([+-]\d+\)$")  # the name of a transposed copy: "chorale 3 (+2)"


def _read_npz(file: Path) -> dict[str, np.ndarray]:
    """data.npz's four arrays, read with limits: the unpacked sizes from the zip's directory and every
    array's header (dtype and shape) are checked before its data is inflated, so a 4 MB file that
    would unpack to 4 GB is refused at once (``np.load`` would inflate whatever a member holds)."""
    with zipfile.ZipFile(file) as zf:
        infos = zf.infolist()
        if len(infos) > 2 * len(DATA_MEMBERS):
            raise ValueError(f"it holds {len(infos)} members; a run's data has {len(DATA_MEMBERS)}")
        by_name = {i.filename.removesuffix(".npy"): i for i in infos}
        missing = [n for n in DATA_MEMBERS if n not in by_name]
        if missing:
            raise KeyError(f"no array {missing[0]!r}")
        members = [by_name[n] for n in DATA_MEMBERS]
        if any(i.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) for i in members):
            raise ValueError("an array is compressed with a method numpy does not write")
        unpacked = sum(i.file_size for i in members)
        if unpacked > MAX_DATA_BYTES:
            raise ValueError(
                f"its arrays unpack to {unpacked / MB:,.0f} MB, over the limit of {MAX_DATA_BYTES / MB:,.0f} MB"
            )
        arrays = {}
        for name, info in zip(DATA_MEMBERS, members, strict=True):
            with zf.open(info) as fh:
                arrays[name] = _read_array(fh, name, info.file_size)
    return arrays


def _read_array(fh: Any, name: str, member_bytes: int) -> np.ndarray:
    """One .npy member: its header checked (integers, at most 2-D, no more data than the member holds)."""
    version = np.lib.format.read_magic(fh)
    if version == (1, 0):
        shape, _fortran, dtype = np.lib.format.read_array_header_1_0(fh, max_header_size=10_000)
    else:
        shape, _fortran, dtype = np.lib.format.read_array_header_2_0(fh, max_header_size=10_000)
    if dtype.kind not in "iu" or dtype.hasobject:
        raise ValueError(f"{name} holds {dtype} values, not integers")
    if len(shape) > 2:
        raise ValueError(f"{name} has the shape {shape}; musegen writes 1-D or 2-D arrays")
    declared = math.prod(shape) * dtype.itemsize
    if declared > member_bytes:
        raise ValueError(f"{name} declares {declared:,} bytes but its member holds {member_bytes:,}")
    data = fh.read(declared)
    if len(data) != declared:
        raise ValueError(f"{name} is truncated")
    return np.frombuffer(data, dtype=dtype).reshape(shape)


def _split(flat: np.ndarray, lengths: np.ndarray, vocab_size: int, width: int) -> list[np.ndarray]:
    """The stored sequences; ValueError when the arrays do not fit together or the vocabulary."""
    if lengths.ndim != 1 or (len(lengths) and int(lengths.min()) < 0):
        raise ValueError("the piece lengths are not a list of counts")
    if int(lengths.sum(dtype=np.int64)) != len(flat):
        raise ValueError("lengths do not add up to the stored ids")
    if flat.ndim == 1 and len(flat) and not (int(flat.min()) >= 0 and int(flat.max()) < vocab_size):
        raise ValueError(
            f"token ids run from {int(flat.min())} to {int(flat.max())}, outside the vocabulary of {vocab_size}"
        )
    if flat.ndim == 2 and (flat.shape[1] != width or (flat.size and not 0 <= int(flat.min()) <= int(flat.max()) <= 1)):
        raise ValueError(f"the frames have shape {flat.shape} or values outside 0-1; the model reads {width} keys")
    if flat.ndim != (2 if width != vocab_size else 1) and len(flat):
        raise ValueError(f"the stored ids have {flat.ndim} dimensions; this run's representation needs another shape")
    dtype = np.uint8 if flat.ndim == 2 else np.int32  # frames (uint8 now, int32 in older run folders), or ids
    return [a.astype(dtype) for a in np.split(flat, np.cumsum(lengths)[:-1])] if len(lengths) else []
