"""The pretraining corpus: music21's core corpus and the built-in chorales, in the base vocabulary, in a token store.

One committed, reproducible command rebuilds it from what a fresh clone has installed (no download)::

    python -m musegen corpus build .cache/corpus --workers 2     # or: make corpus

Every file of :func:`plan_files` (the built-in Bach chorales first, as their own collection, then music21's
core corpus by path) is read in a worker process (:func:`convert_file`: its pieces, an ABC Opus giving one
per tune, each mapped onto ``musegen-base-timed-v1`` by :func:`~musegen.datasets.fixed_vocab.map_piece`),
and the pieces are appended in the plan's order to a token store (:mod:`musegen.streams.store`), so the
store is the same whatever the number of workers. A piece whose tokens are those of an earlier piece is
left out (counted: a copy would sit on both sides of the split); a piece is held out for scoring by a hash
of its name (:func:`~musegen.streams.store.split_of`: stable, decided one piece at a time). A file music21
cannot read is reported and skipped, never fatal.

Beside the store's own files the folder holds ``vocab_report.jsonl`` (one line per file: its collection,
pieces, notes, tokens, duplicates, what the mapping changed, the error or the reason it was skipped) and
``corpus.json`` (the counts per collection with its source and licence, the vocabulary, the split rule).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from musegen.datasets.fixed_vocab import (
    BASE_VOCAB_NAME,
    MappingReport,
    base_data_config,
    base_vocabulary,
    map_piece,
    vocab_summary,
)
from musegen.errors import ConfigError
from musegen.fileio import atomic_write_text
from musegen.sources import music21_corpus as m21
from musegen.sources.corpus import BUILTIN_NAME, load_builtin_corpus
from musegen.sources.stream import DigestSet
from musegen.streams.store import VAL, StoreWriter, id_dtype, split_of
from musegen.vocabulary import BOS_ID, FIM_TOKENS, Vocabulary

REPORT, SUMMARY = "vocab_report.jsonl", "corpus.json"
BUILTIN_COLLECTION = m21.Collection(
    BUILTIN_NAME,
    "the 371 Bach chorales musegen ships (musegen/data/bach_chorales.npz, converted from music21's bach/)",
    "music21 core corpus, bach/ (python -m musegen.sources.corpus --rebuild)",
    "public-domain music; " + m21.CORPUS_TERMS,
)
SPLIT_RULE = "held out when blake2b('{seed}:{piece name}') / 2**64 < val_fraction (musegen.streams.store.split_of)"
# (files done, files planned, pieces stored, the file just read, seconds so far)
CorpusProgress = Callable[[int, int, int, str, float], None]


@dataclass(frozen=True)
class CorpusFile:
    """One file of the plan: its name (the path under music21's corpus folder), collection and path."""

    name: str
    collection: str
    path: str  # "" for the built-in chorales (read from the shipped .npz)


@dataclass
class PieceIds:
    name: str
    ids: np.ndarray  # base-vocabulary ids, <bos> first
    tempo_map: np.ndarray
    tempo: float
    notes: int  # notes written


@dataclass
class FileResult:
    """What one file gave: its pieces' ids, what mapping them changed, and an error or a skip reason."""

    file: CorpusFile
    pieces: list[PieceIds] = field(default_factory=list)
    mapping: MappingReport = field(default_factory=MappingReport)
    error: str = ""
    skipped: str = ""
    empty: int = 0  # pieces without a note
    seconds: float = 0.0


def collections_known() -> dict[str, m21.Collection]:
    """Every collection, the built-in chorales first."""
    return {BUILTIN_NAME: BUILTIN_COLLECTION, **m21.COLLECTIONS}


def plan_files(collections: Sequence[str] | None = None, limit: int | None = None) -> list[CorpusFile]:
    """The files to read, in a fixed order: the built-in chorales, then music21's core corpus sorted by path;
    only ``collections`` (names of :func:`collections_known`) when given; the first ``limit``."""
    known = collections_known()
    wanted = set(collections or [])
    unknown = sorted(wanted - set(known) - {"other"})
    if unknown:
        raise ConfigError(f"unknown collection(s) {', '.join(unknown)}; `python -m musegen corpus list` names them.")
    if limit is not None and limit < 1:
        raise ConfigError(f"--limit must be at least 1, got {limit}.")
    root = m21.corpus_root()
    files = [CorpusFile(f"{BUILTIN_NAME}.npz", BUILTIN_NAME, "")]
    files += [CorpusFile(p.relative_to(root).as_posix(), c, str(p)) for c, p in m21.core_paths()]
    if wanted:
        files = [f for f in files if f.collection in wanted]
    return files[:limit] if limit is not None else files


def convert_file(file: CorpusFile) -> FileResult:
    """One file's pieces in the base vocabulary (run in a worker); an unreadable file gives its error."""
    t0 = time.monotonic()
    out = FileResult(file)
    reason = m21.skip_reason(Path(file.path)) if file.path else ""
    if reason:
        out.skipped = reason
        return out
    try:
        pieces = load_builtin_corpus() if not file.path else m21.read_corpus_file(file.path, file.name)
    except Exception as exc:  # music21 raises many kinds; the file is reported, not fatal
        out.error = f"{type(exc).__name__}: {str(exc)[:300]}"
        out.seconds = time.monotonic() - t0
        return out
    vocab = _store_vocab()
    for piece in pieces:
        if not piece.n_notes:
            out.empty += 1
            continue
        tokens, report = map_piece(piece)
        out.mapping.add(report)
        ids = np.concatenate([[BOS_ID], vocab.encode(tokens)]).astype(np.uint16)
        name = piece.name if file.path else f"{BUILTIN_NAME}/{piece.name}"
        out.pieces.append(PieceIds(name, ids, piece.tempos(), float(piece.tempo), report.kept))
    out.seconds = time.monotonic() - t0
    return out


def _store_vocab() -> Vocabulary:
    """The base vocabulary without the FIM sentinels (a store's is; a run adds them back, with the same ids)."""
    vocab = base_vocabulary()
    return Vocabulary([t for t in vocab.tokens if t not in FIM_TOKENS], vocab.representation, vocab.meta)


def _results(files: list[CorpusFile], workers: int) -> Iterator[FileResult]:
    """Each file's result in the plan's order, converted in ``workers`` processes (1: here)."""
    if workers <= 1:
        yield from map(convert_file, files)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        yield from pool.map(convert_file, files, chunksize=1)


@dataclass
class CollectionCounts:
    files: int = 0
    read: int = 0
    errors: int = 0
    skipped: int = 0
    pieces: int = 0
    notes: int = 0
    tokens: int = 0
    val_pieces: int = 0
    val_tokens: int = 0
    duplicates: int = 0
    empty: int = 0


class _Builder:
    """Appends file results to the store, the report and the counts."""

    def __init__(self, writer: StoreWriter, report: Any, val_fraction: float, seed: int) -> None:
        self.writer, self.report = writer, report
        self.val_fraction, self.seed = val_fraction, seed
        self.seen = DigestSet()
        self.counts: dict[str, CollectionCounts] = {}
        self.mapping = MappingReport()

    def add(self, result: FileResult) -> None:
        f = result.file
        c = self.counts.setdefault(f.collection, CollectionCounts())
        c.files += 1
        row: dict[str, Any] = {"file": f.name, "collection": f.collection}
        if result.skipped or result.error:
            c.skipped += bool(result.skipped)
            c.errors += bool(result.error)
            row.update(ok=False, skipped=result.skipped, error=result.error)
            self.writer.add_file(f.name, False, result.skipped or result.error)
            self.report.write(json.dumps(row) + "\n")
            return
        c.read += 1
        kept, duplicates, notes, tokens = 0, [], 0, 0
        for p in result.pieces:
            digest = int.from_bytes(hashlib.blake2b(p.ids.tobytes(), digest_size=8).digest(), "little", signed=True)
            if not self.seen.add(digest):
                duplicates.append(p.name)
                continue
            split = split_of(p.name, self.val_fraction, self.seed)
            self.writer.add_piece(p.name, p.ids, split, p.tempo_map, round(p.tempo, 2))
            kept, notes, tokens = kept + 1, notes + p.notes, tokens + len(p.ids)
            c.val_pieces += split == VAL
            c.val_tokens += len(p.ids) if split == VAL else 0
        c.pieces, c.notes, c.tokens = c.pieces + kept, c.notes + notes, c.tokens + tokens
        c.duplicates += len(duplicates)
        c.empty += result.empty
        self.mapping.add(result.mapping)
        reason = "" if kept else "no piece with notes that is not a duplicate"
        self.writer.add_file(f.name, bool(kept), reason, n_notes=notes)
        row.update(ok=bool(kept), pieces=kept, notes=notes, tokens=tokens, duplicates=len(duplicates))
        row.update(duplicate_names=duplicates[:5], empty=result.empty, mapping=result.mapping.to_dict())
        row.update(seconds=round(result.seconds, 3), error="", skipped="")
        self.report.write(json.dumps(row) + "\n")


def build_corpus_store(
    out_dir: str | Path,
    *,
    workers: int = 1,
    limit: int | None = None,
    collections: Sequence[str] | None = None,
    val_fraction: float = 0.1,
    overwrite: bool = False,
    on_progress: CorpusProgress | None = None,
    files: Sequence[CorpusFile] | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Build the pretraining corpus's token store in ``out_dir``; return corpus.json's content.

    ``files`` replaces the plan (tests, or a chosen list); otherwise :func:`plan_files` (``collections``,
    ``limit``). Raises ConfigError for bad settings, DatasetError when no file gave a piece.
    """
    if workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}.")
    cfg = replace(base_data_config(), val_fraction=val_fraction, split_seed=seed)
    cfg.validate()
    plan = list(files) if files is not None else plan_files(collections, limit)
    vocab = _store_vocab()
    writer = StoreWriter(out_dir, cfg, ids_dtype=id_dtype(len(vocab)), overwrite=overwrite)
    t0 = time.monotonic()
    with (Path(out_dir) / REPORT).open("w", encoding="utf-8") as report:
        builder = _Builder(writer, report, val_fraction, seed)
        for done, result in enumerate(_results(plan, workers), 1):
            builder.add(result)
            if on_progress:
                on_progress(done, len(plan), writer.n_pieces, result.file.name, time.monotonic() - t0)
    seconds = time.monotonic() - t0
    manifest = writer.finish(lambda _counts: (vocab, None), {"corpus": "music21-core", "vocabulary": BASE_VOCAB_NAME})
    summary = _summary(builder, manifest, plan, workers, seconds, val_fraction, seed)
    atomic_write_text(Path(out_dir) / SUMMARY, json.dumps(summary, indent=1))
    return summary


def _summary(
    builder: _Builder,
    manifest: dict[str, Any],
    plan: list[CorpusFile],
    workers: int,
    seconds: float,
    val_fraction: float,
    seed: int,
) -> dict[str, Any]:
    import music21

    known = collections_known()
    per = {}
    for name, counts in builder.counts.items():
        info = known.get(name, m21.OTHER)
        per[name] = {**asdict(counts), "title": info.title, "source": info.source, "licence": info.licence}
        per[name]["status"] = info.status
    totals = {k: sum(getattr(c, k) for c in builder.counts.values()) for k in asdict(CollectionCounts())}
    return {
        "corpus": "music21 core corpus and musegen's built-in Bach chorales",
        "music21_version": music21.__version__,
        "vocabulary": vocab_summary(),
        "split": {"rule": SPLIT_RULE, "val_fraction": val_fraction, "seed": seed, "by": "piece"},
        "files_planned": len(plan),
        "workers": workers,
        "build_seconds": round(seconds, 1),
        "totals": totals,
        "store": {k: manifest[k] for k in ("pieces", "tokens", "train_pieces", "val_pieces", "train_tokens")}
        | {"val_tokens": manifest["val_tokens"], "vocab_size": manifest["vocab_size"]},
        "mapping": builder.mapping.to_dict(),
        "collections": per,
    }


def list_collections() -> list[dict[str, Any]]:
    """Every collection with its file count (in this music21), source, licence and status."""
    counts: dict[str, int] = {}
    for f in plan_files():
        counts[f.collection] = counts.get(f.collection, 0) + 1
    rows = []
    for name, info in collections_known().items():
        rows.append({"name": name, "files": counts.pop(name, 0), **asdict(info)})
    for name, n in counts.items():  # folders the list does not know
        rows.append({**asdict(m21.OTHER), "name": name, "files": n})
    return rows
