"""Ingest a corpus of any size into a token store, streaming: files in, token ids out to disk.

Files are found and read lazily and decoded in the decoding workers
(:func:`musegen.sources.stream.decode_stream`); each piece is tokenized by the representation and
appended to the store (:class:`musegen.streams.store.StoreWriter`) at once, so memory stays bounded
whatever the number of files: a few files in flight, and about 8 bytes per piece of bookkeeping (the
digests that find duplicates). The pieces are the ones :func:`musegen.datasets.dataset.build_dataset`
would keep (exact duplicates and empty pieces are reported and left out) with the same ids, split by a
hash of each piece's name instead of a shuffle (stable, and decided one piece at a time). Each piece's
tempo map is stored with it, and the tempo its ids play at (:mod:`musegen.streams.store_tempos`).

Vocabularies: the timed tokens' is closed (fixed by the grid settings), so ids are written once. The
classic tokens' is fitted on the training pieces: ids are written against an open, growing index of the
tokens seen, counted on the training split, and remapped to the fitted vocabulary in one sequential pass
over the store's ids at the end (the MIDI is read once). Piano-roll frames are not stored: they train
from ``--data`` (their own compact store, :mod:`musegen.streams.frames`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from musegen.config import DataConfig, Limits
from musegen.errors import ConfigError
from musegen.representations.registry import for_config
from musegen.representations.tokens import TokenRepresentation
from musegen.sources.stream import DigestSet, decode_stream, walk_inputs
from musegen.streams.store import StoreWriter, id_dtype, split_of
from musegen.vocabulary import BOS_ID, SPECIALS, UNK_ID, Vocabulary

# (files read, pieces stored, current file name, files per second)
StoreProgress = Callable[[int, int, str, float], None]
_REPEAT = 1 << 16  # copies of one token handed to a tokenizer's vocabulary count at once


def ingest_to_store(
    paths: Sequence[str | Path],
    store_dir: str | Path,
    cfg: DataConfig,
    *,
    limits: Limits | None = None,
    max_files: int | None = None,
    overwrite: bool = False,
    workers: int | None = None,
    on_progress: StoreProgress | None = None,
) -> dict[str, Any]:
    """Read the MIDI files under ``paths`` into a new token store at ``store_dir``; return its manifest.

    At most ``max_files`` files are read (default: ``limits.max_files``); the rest are not looked at,
    and the manifest says so. Raises ConfigError for a representation that cannot be stored, DatasetError
    when no file gave a piece (then no manifest is written).
    """
    cfg.validate()
    if not paths:
        raise ConfigError("give the MIDI files or folders to store (the built-in corpus trains from --data).")
    limits = limits or Limits.from_env()
    max_files = max_files or limits.max_files
    base = dataclasses.replace(cfg, fim_rate=0.0)  # a run adds the sentinels after the stored ids
    rep = for_config(base)
    if not isinstance(rep, TokenRepresentation):
        raise ConfigError(
            f"a token store holds token ids; the {rep.name} representation streams its frames from --data "
            "instead. Ingest with --repr timed or --repr classic."
        )
    encoder = _Encoder(rep)
    writer = StoreWriter(
        store_dir, base, ids_dtype=id_dtype(len(encoder.vocab)) if encoder.vocab else None, overwrite=overwrite
    )
    seen = DigestSet()
    t0 = last = time.monotonic()
    read = 0
    left = [False]
    stream = decode_stream(_first(walk_inputs(paths, limits), max_files, left), base, limits, workers=workers)
    for item in stream:
        read += 1
        if item.piece is None:
            writer.add_file(item.name, False, item.reason)
        else:
            _store_piece(rep, encoder, writer, seen, item.name, item.piece)
        now = time.monotonic()
        if on_progress and now - last >= 0.5:
            on_progress(read, writer.n_pieces, item.name, read / max(now - t0, 1e-9))
            last = now
    seconds = time.monotonic() - t0
    if on_progress:
        on_progress(read, writer.n_pieces, "", read / max(seconds, 1e-9))
    extra = {
        "inputs": [str(p) for p in paths],
        "max_files": max_files,
        "limited": left[0],  # the walk stopped at max_files: files after it were not read
        "ingest_seconds": round(seconds, 3),
    }
    return writer.finish(encoder.make_vocab, extra)


def _first(items: Iterator[tuple[str, Any]], n: int, left: list[bool]) -> Iterator[tuple[str, Any]]:
    """The first ``n`` items; ``left[0]`` becomes True when there were more."""
    for k, item in enumerate(items):
        if k >= n:
            left[0] = True
            return
        yield item


def _store_piece(
    rep: TokenRepresentation, encoder: _Encoder, writer: StoreWriter, seen: DigestSet, name: str, piece: Any
) -> None:
    tokens = rep.sequence(piece)
    if len(tokens) < rep.min_length:
        writer.add_file(name, False, "no tokens: nothing in it the representation can write")
        return
    ids = encoder.ids(tokens)
    digest = int.from_bytes(hashlib.blake2b(ids.tobytes(), digest_size=8).digest(), "little", signed=True)
    if not seen.add(digest):  # as build_dataset: a copy would sit on both sides of the split
        writer.add_file(name, False, "duplicate of an earlier piece (the same tokens)")
        return
    split = split_of(piece.name, writer.cfg.val_fraction, writer.cfg.split_seed)
    # its tempo map as read, and the tempo its ids play at decoded (what build_dataset records for a run)
    writer.add_piece(piece.name, ids, split, piece.tempos(), round(rep.playback_tempo(piece), 2))
    writer.add_file(name, True, n_notes=piece.n_notes)


class _Encoder:
    """Token strings to store ids: the vocabulary's ids when it is closed, else an open index of the
    tokens in the order first seen (remapped at the end by :meth:`make_vocab`)."""

    def __init__(self, rep: TokenRepresentation) -> None:
        self.rep = rep
        try:
            self.vocab: Vocabulary | None = rep.vocab  # closed: known before any data
        except ConfigError:
            self.vocab = None
        tokens = self.vocab.tokens if self.vocab else list(SPECIALS)
        self.index = {t: i for i, t in enumerate(tokens)}

    def ids(self, tokens: list[str]) -> np.ndarray:
        index = self.index
        if self.vocab is not None:
            body = [index.get(t, UNK_ID) for t in tokens]
        else:
            body = [index.setdefault(t, len(index)) for t in tokens]
        return np.asarray([BOS_ID, *body], dtype=np.int32)

    def make_vocab(self, train_counts: np.ndarray) -> tuple[Vocabulary, np.ndarray | None]:
        """The vocabulary, and the store-id -> vocabulary-id map (None: the ids are the vocabulary's)."""
        if self.vocab is not None:
            return self.vocab, None
        tokens = list(self.index)
        counts = np.zeros(len(tokens), np.int64)
        counts[: len(train_counts)] = train_counts[: len(tokens)]
        vocab = self.rep.tokenizer.build_vocab(_repeated(tokens[len(SPECIALS) :], counts[len(SPECIALS) :]))
        return vocab, vocab.encode(tokens).astype(np.int64)


def _repeated(tokens: list[str], counts: np.ndarray) -> Iterator[list[str]]:
    """Token lists whose counts are ``counts``, a bounded list at a time (what ``build_vocab`` counts)."""
    for token, count in zip(tokens, counts.tolist(), strict=True):
        while count > 0:
            yield [token] * min(count, _REPEAT)
            count -= _REPEAT
