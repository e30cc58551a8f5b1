"""A token store on disk: a corpus of any size as one flat, memory-mapped token array.

::

    STORE/
      .musegen-store   marks the folder as a store (written first: a store being written, or half-written)
      tokens.bin       every piece's ids (``<bos>`` first), one after another: uint16 when the vocabulary
                       fits, else uint32, little-endian; appended piece by piece
      offsets.bin      int64 (pieces + 1): piece i is tokens[offsets[i]:offsets[i + 1]]
      split.bin        uint8 per piece: 0 training, 1 validation (decided by a hash of the name)
      tempos.bin, tempo_offsets.bin, bpm.bin
                       every piece's tempo map and the tempo it plays at (:mod:`musegen.streams.store_tempos`)
      names.txt        the pieces' names, one a line
      files.jsonl      one line per input file: name, ok, reason, notes (the full per-file report)
      vocab.json       the vocabulary (without fill-in-the-middle sentinels; a run adds them after)
      manifest.json    written last, atomically: counts, sizes, settings, the reasons summarised

A folder without ``manifest.json`` is a store whose ingest did not finish, and is refused. The
manifest's hash identifies the store's content, so a run can say which store it was trained on (it
counts the pieces, tokens and tempo rows, and has the ingest's time). Nothing is pickled; ids and tempo
maps are written by :class:`StoreWriter` as they come and read by :class:`TokenStore` with ``np.memmap``,
so opening a store of a hundred million tokens costs nothing until windows are read.

Stores written before tempo maps were kept (no ``tempo_rows`` in the manifest, no tempos.bin) open and
train as before; their pieces play at :data:`~musegen.notes.DEFAULT_TEMPO` (``TokenStore.has_tempos``).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from musegen.config import DataConfig, from_dict
from musegen.errors import ConfigError, DatasetError
from musegen.fileio import atomic_write_text, kind_of, make_dirs, storage_error
from musegen.jsonio import JsonError, parse_json
from musegen.streams.store_tempos import ROWS, StoreTempos, TempoWriter, check_size, read_offsets
from musegen.vocabulary import Vocabulary

FORMAT, VERSION = "musegen-token-store", 1
MARKER, MANIFEST, VOCAB = ".musegen-store", "manifest.json", "vocab.json"
TOKENS, OFFSETS, SPLIT, NAMES, FILES = "tokens.bin", "offsets.bin", "split.bin", "names.txt", "files.jsonl"
TRAIN, VAL = 0, 1
MAX_REASONS = 200  # distinct reasons counted in the manifest; the rest count as "other"
EXAMPLES = 3  # names kept per reason in the manifest (files.jsonl has every one)
_CHUNK = 1 << 22  # ids rewritten at once when the vocabulary is remapped
SAMPLE_PIECES, SAMPLE_TOKENS = 200, 1_000_000  # of each split, kept in a run folder (evaluation, seeds)


def id_dtype(vocab_size: int) -> np.dtype:
    """uint16 while the ids (with four sentinels a run may add) fit, else uint32."""
    return np.dtype("<u2") if vocab_size + 4 <= 1 << 16 else np.dtype("<u4")


def split_of(name: str, val_fraction: float, seed: int) -> int:
    """TRAIN or VAL for a piece, from a hash of its name: stable, and decided without seeing the others."""
    digest = hashlib.blake2b(f"{seed}:{name}".encode(), digest_size=8).digest()
    return VAL if int.from_bytes(digest, "little") / 2.0**64 < val_fraction else TRAIN


@dataclass
class ReasonCounts:
    """Skipped files counted per reason, with the first few names of each (bounded)."""

    counts: dict[str, int]
    examples: dict[str, list[str]]

    def add(self, reason: str, name: str) -> None:
        if reason not in self.counts and len(self.counts) >= MAX_REASONS:
            reason = "other reasons (see files.jsonl)"
        self.counts[reason] = self.counts.get(reason, 0) + 1
        names = self.examples.setdefault(reason, [])
        if len(names) < EXAMPLES:
            names.append(name)


class StoreWriter:
    """Appends pieces and file results to a new store; :meth:`finish` writes the manifest last."""

    def __init__(
        self, path: str | Path, cfg: DataConfig, *, ids_dtype: np.dtype | None = None, overwrite: bool = False
    ) -> None:
        """``ids_dtype``: the ids' final type when the vocabulary is known before the data (a closed one), so
        they are written once; None writes 4 bytes an id and packs them in :meth:`finish`."""
        self.path = Path(path)
        self.cfg = cfg
        self._dtype = np.dtype(ids_dtype or "<u4")
        _prepare(self.path, overwrite)
        try:
            (self.path / MARKER).write_text(f"{FORMAT} {VERSION}: being written\n")
            self._tokens = (self.path / TOKENS).open("wb")
            self._offsets = (self.path / OFFSETS).open("wb")
            self._split = (self.path / SPLIT).open("wb")
            self._names = (self.path / NAMES).open("w", encoding="utf-8")
            self._files = (self.path / FILES).open("w", encoding="utf-8")
            self._tempos = TempoWriter(self.path)
        except OSError as exc:
            raise storage_error(exc, self.path, "write the store in") from exc
        self._offsets.write(np.zeros(1, "<i8").tobytes())
        self.n_pieces = self.n_tokens = self.n_files = self.n_ok = 0
        self.split_pieces, self.split_tokens = [0, 0], [0, 0]
        self.train_counts = np.zeros(0, np.int64)  # per store id, over the training pieces (open vocabularies)
        self.skipped = ReasonCounts({}, {})
        self._last_train = -1

    def add_piece(
        self, name: str, ids: np.ndarray, split: int, tempo_map: np.ndarray | None = None, tempo: float | None = None
    ) -> None:
        """Append one piece's ids (``<bos>`` first, below 2**32) to the given split, with its tempo map
        ((K, 2) [beat, BPM] as :class:`~musegen.notes.Piece` keeps it; None: ``tempo`` throughout) and the
        tempo it plays at decoded (``tempo``; default: its map's first)."""
        ids = np.asarray(ids)
        self._tempos.add(tempo_map, tempo)
        self._tokens.write(ids.astype(self._dtype).tobytes())
        self.n_tokens += len(ids)
        self._offsets.write(np.asarray([self.n_tokens], "<i8").tobytes())
        self._split.write(bytes([split]))
        self._names.write(name.replace("\n", " ").replace("\r", " ") + "\n")
        self.split_pieces[split] += 1
        self.split_tokens[split] += len(ids)
        if split == TRAIN:
            self._count(ids, 1)
            self._last_train = self.n_pieces
        self.n_pieces += 1

    def add_file(self, name: str, ok: bool, reason: str = "", n_notes: int = 0) -> None:
        """One input file's line of the report."""
        row = {"name": name, "ok": ok, "reason": reason, "n_notes": int(n_notes)}
        self._files.write(json.dumps(row) + "\n")
        self.n_files += 1
        self.n_ok += bool(ok)
        if not ok:
            self.skipped.add(reason, name)

    def _count(self, ids: np.ndarray, sign: int) -> None:
        counts = np.bincount(ids.astype(np.int64))
        if len(counts) > len(self.train_counts):
            self.train_counts = np.pad(self.train_counts, (0, len(counts) - len(self.train_counts)))
        self.train_counts[: len(counts)] += sign * counts

    def finish(
        self, make_vocab: Callable[[np.ndarray], tuple[Vocabulary, np.ndarray | None]], extra: dict[str, Any]
    ) -> dict[str, Any]:
        """Close the files, fix the ids to the vocabulary ``make_vocab(train_counts)`` gives (with the
        store-id -> vocabulary-id map it returns, or None when they are the vocabulary's already), pack
        them, and write vocab.json and the manifest, last. Raises DatasetError when no piece was stored."""
        for fh in (self._tokens, self._offsets, self._split, self._names, self._files, self._tempos):
            fh.close()
        if not self.n_pieces:
            raise DatasetError(
                f"No usable MIDI file among {self.n_files} input(s); nothing was stored. "
                f"Reasons: {'; '.join(list(self.skipped.counts)[:5]) or 'none'}. "
                "Bring .mid/.midi files with pitched (non-drum) notes."
            )
        self._both_splits()
        vocab, remap = make_vocab(self.train_counts)
        dtype = id_dtype(len(vocab))
        self._pack(remap, dtype)
        vocab.save(self.path / VOCAB)
        manifest = {
            "format": FORMAT,
            "version": VERSION,
            "created": time.time(),
            "representation": vocab.representation,
            "data": asdict(self.cfg),
            "dtype": dtype.str,
            "vocab_size": len(vocab),
            "pieces": self.n_pieces,
            "tokens": self.n_tokens,
            ROWS: self._tempos.n_rows,
            "train_pieces": self.split_pieces[TRAIN],
            "val_pieces": self.split_pieces[VAL],
            "train_tokens": self.split_tokens[TRAIN],
            "val_tokens": self.split_tokens[VAL],
            "files": self.n_files,
            "ok": self.n_ok,
            "skipped": self.n_files - self.n_ok,
            "reasons": self.skipped.counts,
            "reason_examples": self.skipped.examples,
            **extra,
        }
        atomic_write_text(self.path / MANIFEST, json.dumps(manifest, indent=1))
        (self.path / MARKER).write_text(f"{FORMAT} {VERSION}\n")
        return manifest

    def _both_splits(self) -> None:
        """With two pieces or more and a validation share, at least one piece on each side (as
        :func:`~musegen.datasets.dataset.split_by_piece`): the last training piece, or the first
        validation piece, changes side."""
        if self.n_pieces < 2 or self.cfg.val_fraction <= 0 or all(self.split_pieces):
            return
        split = np.fromfile(self.path / SPLIT, np.uint8)
        offsets = np.fromfile(self.path / OFFSETS, "<i8")
        i = self._last_train if self.split_pieces[VAL] == 0 else int(np.flatnonzero(split == VAL)[0])
        count, at = int(offsets[i + 1] - offsets[i]), int(offsets[i]) * self._dtype.itemsize
        ids = np.fromfile(self.path / TOKENS, self._dtype, count=count, offset=at)
        was, now = int(split[i]), 1 - int(split[i])
        self._count(ids, -1 if was == TRAIN else 1)
        split[i] = now
        split.tofile(self.path / SPLIT)
        for side, sign in ((was, -1), (now, 1)):
            self.split_pieces[side] += sign
            self.split_tokens[side] += sign * len(ids)

    def _pack(self, remap: np.ndarray | None, dtype: np.dtype) -> None:
        """tokens.bin from the written ids to ``dtype``, through ``remap``, a chunk at a time."""
        if remap is None and dtype == self._dtype:
            return
        wide, packed = self.path / TOKENS, self.path / (TOKENS + ".tmp")
        src = np.memmap(wide, self._dtype, "r", shape=(self.n_tokens,))
        with packed.open("wb") as out:
            for start in range(0, self.n_tokens, _CHUNK):
                chunk = np.asarray(src[start : start + _CHUNK])
                out.write((remap[chunk] if remap is not None else chunk).astype(dtype).tobytes())
        del src
        packed.replace(wide)


def _prepare(path: Path, overwrite: bool) -> None:
    """An empty folder for a new store: a half-written store is replaced, a finished one only with
    ``overwrite``, and a folder holding anything else is refused."""
    if path.exists() and not path.is_dir():
        raise DatasetError(f"{path} is {kind_of(path.stat().st_mode)}, not a folder; give a folder for the store.")
    if path.is_dir() and any(path.iterdir()):
        if not (path / MARKER).exists():
            raise DatasetError(f"{path} is a folder of other files, not a token store; give a new or empty folder.")
        if (path / MANIFEST).exists() and not overwrite:
            raise DatasetError(f"{path} already holds a token store; pass --overwrite to replace it.")
        try:
            shutil.rmtree(path)
        except OSError as exc:
            raise storage_error(exc, path, "replace the store") from exc
    make_dirs(path)


class TokenStore:
    """A finished store, memory-mapped: pieces, splits and names read without loading the corpus."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        raw = _read_manifest(self.path)
        self.manifest: dict[str, Any] = raw[0]
        self.manifest_hash: str = raw[1]
        m = self.manifest
        try:
            self.n_pieces, self.n_tokens = int(m["pieces"]), int(m["tokens"])
            self.data_config = from_dict(DataConfig, m["data"])
            dtype = np.dtype(m["dtype"])
        except (KeyError, TypeError, ValueError) as exc:
            raise DatasetError(f"{self.path / MANIFEST} is damaged ({exc}); ingest the store again.") from exc
        if dtype.kind != "u" or dtype.itemsize not in (2, 4):
            raise DatasetError(f"{self.path / MANIFEST} names ids of type {dtype}; ingest the store again.")
        self.vocab = _load_vocab(self.path)
        expected = {TOKENS: self.n_tokens * dtype.itemsize, OFFSETS: (self.n_pieces + 1) * 8, SPLIT: self.n_pieces}
        for name, size in expected.items():
            check_size(self.path / name, size)
        self.tokens = np.memmap(self.path / TOKENS, dtype, "r", shape=(self.n_tokens,))
        self.offsets = read_offsets(self.path / OFFSETS, self.n_tokens, "tokens")
        self.split = np.fromfile(self.path / SPLIT, np.uint8)
        self.tempo_maps = StoreTempos(self.path, m, self.n_pieces)
        # False for a store from before tempo maps were kept: its pieces read as the default tempo throughout
        self.has_tempos = self.tempo_maps.kept

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def indices(self, split: int) -> np.ndarray:
        """The pieces of one split (TRAIN or VAL), in store order."""
        return np.flatnonzero(self.split == split)

    def piece(self, i: int) -> np.ndarray:
        """Piece ``i``'s ids as int32."""
        return np.asarray(self.tokens[self.offsets[i] : self.offsets[i + 1]], dtype=np.int32)

    def tempo_map(self, i: int) -> np.ndarray:
        """Piece ``i``'s tempo map, (K, 2) float64 [beat, BPM] from beat 0 (one row for one tempo throughout),
        exactly as ingested; ``[[0, DEFAULT_TEMPO]]`` for every piece of a store without tempo maps."""
        return self.tempo_maps.tempo_map(i)

    def tempo(self, i: int) -> float:
        """The tempo (BPM) piece ``i`` plays at decoded from its ids; DEFAULT_TEMPO without tempo maps."""
        return self.tempo_maps.tempo(i)

    def names(self, indices: np.ndarray) -> list[str]:
        """The names of the pieces ``indices`` (in that order), read line by line from names.txt."""
        wanted = {int(i): k for k, i in enumerate(indices)}
        out = [""] * len(indices)
        with (self.path / NAMES).open(encoding="utf-8") as fh:
            for i, line in enumerate(fh):
                if i in wanted:
                    out[wanted[i]] = line.rstrip("\n")
        return out

    def sample_indices(
        self, split: int, max_pieces: int = SAMPLE_PIECES, max_tokens: int = SAMPLE_TOKENS
    ) -> np.ndarray:
        """The first pieces of a split, at most ``max_pieces`` and ``max_tokens`` (at least one piece): what a
        run keeps of its store for evaluation and seeds (the default bounds)."""
        chosen, total = [], 0
        for i in self.indices(split)[:max_pieces]:
            n = int(self.offsets[i + 1] - self.offsets[i])
            if chosen and total + n > max_tokens:
                break
            chosen.append(int(i))
            total += n
        return np.asarray(chosen, np.int64)

    def reference(self) -> dict[str, Any]:
        """What a run records of the store it trained on (its store.json)."""
        m = self.manifest
        return {
            "path": str(self.path.resolve()),
            "manifest_hash": self.manifest_hash,
            **{k: m.get(k) for k in ("pieces", "tokens", "train_pieces", "val_pieces", "files", "representation")},
        }


def open_store(path: str | Path) -> TokenStore:
    """The finished store at ``path``; DatasetError saying what to do when there is none, or it is half-written."""
    return TokenStore(path)


def _read_manifest(path: Path) -> tuple[dict[str, Any], str]:
    file = path / MANIFEST
    if not path.is_dir():
        raise DatasetError(f"no token store at {path}; make one with `python -m musegen ingest PATH --store {path}`.")
    if not file.is_file():
        if (path / MARKER).exists():
            raise DatasetError(
                f"{path} is a half-written token store (no {MANIFEST}: its ingest stopped before the end); run "
                f"`python -m musegen ingest PATH --store {path}` again."
            )
        raise DatasetError(f"{path} is not a token store (no {MANIFEST}); make one with `musegen ingest --store`.")
    try:
        data = file.read_bytes()
        manifest = parse_json(data, str(file), max_bytes=16 * 1024 * 1024)
    except (OSError, JsonError) as exc:
        raise DatasetError(f"cannot read {file} ({exc}); ingest the store again.") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise DatasetError(f"{file} is not a musegen token store manifest; ingest the store again.")
    if manifest.get("version") != VERSION:
        raise DatasetError(f"{path} is a store of version {manifest.get('version')}; this musegen reads {VERSION}.")
    return manifest, hashlib.blake2b(data, digest_size=16).hexdigest()


def _load_vocab(path: Path) -> Vocabulary:
    try:
        return Vocabulary.load(path / VOCAB)
    except ConfigError as exc:
        raise DatasetError(f"the store's vocabulary is unusable ({exc}); ingest the store again.") from exc


@dataclass
class StoreDataset:
    """What training reads of a store: the store itself (its windows stream from disk) and a bounded
    sample of each split, which a run keeps in its data.npz for held-out evaluation, the floor and seeds."""

    store: TokenStore
    vocab: Vocabulary  # the store's, with the fill-in-the-middle sentinels when the run learns to infill
    train: list[np.ndarray]
    val: list[np.ndarray]
    train_names: list[str]
    val_names: list[str]
    # the tempo (BPM) each sampled piece plays at (TokenStore.tempo), kept in the run's pieces.json; empty for
    # a store without tempo maps (the run's seeds then play at its default tempo)
    train_tempos: list[float] = field(default_factory=list)
    val_tempos: list[float] = field(default_factory=list)


def load_store_dataset(
    store: TokenStore, *, fim: bool, max_pieces: int = SAMPLE_PIECES, max_tokens: int = SAMPLE_TOKENS
) -> StoreDataset:
    """The store as a run's dataset; ``fim`` appends the sentinels to the vocabulary (ids unchanged)."""
    sides = []
    for split in (TRAIN, VAL):
        chosen = store.sample_indices(split, max_pieces, max_tokens)
        tempos = [round(store.tempo(int(i)), 2) for i in chosen] if store.has_tempos else []
        sides.append(([store.piece(int(i)) for i in chosen], store.names(chosen), tempos))
    (train, train_names, train_tempos), (val, val_names, val_tempos) = sides
    vocab = store.vocab.with_fim() if fim else store.vocab
    return StoreDataset(store, vocab, train, val, train_names, val_names, train_tempos, val_tempos)
