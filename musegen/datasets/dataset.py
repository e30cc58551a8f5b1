"""From pieces to a dataset: sequences of the chosen representation, split by piece, augmented.

Each piece becomes one sequence of its representation (token ids that start with ``<bos>``,
or piano-roll frames). Exact duplicates are dropped (the music21 corpus holds a few chorales
twice, and a copy on each side of the split would flatter every held-out score), the pieces are
split by piece into training and validation, and the training split is transposed when asked:
by stored copies (``transposed_copies``), unless the representation transposes each training
example on the fly (``Representation.transposes_on_the_fly``: the piano roll), when each training
piece is stored once and the training pipeline applies ``DataConfig.transpose``.
What a sequence is, and how it is transposed, is the representation's business.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from musegen.config import DataConfig
from musegen.errors import DatasetError
from musegen.notes import Piece
from musegen.representations.base import Representation
from musegen.representations.registry import for_config, for_vocab
from musegen.vocabulary import Vocabulary


@dataclass
class SequenceDataset:
    """Sequences per piece, split by piece: int32 ids starting with ``<bos>``, or (T, 88) uint8
    frames for a piano-roll dataset (then the token counts count predicted frames)."""

    vocab: Vocabulary
    config: DataConfig
    train: list[np.ndarray] = field(default_factory=list)
    val: list[np.ndarray] = field(default_factory=list)
    train_names: list[str] = field(default_factory=list)
    val_names: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)  # pieces dropped as exact copies of another
    # the tempo (BPM) at which each stored sequence, decoded, sounds like its piece (Representation.playback_tempo)
    train_tempos: list[float] = field(default_factory=list)
    val_tempos: list[float] = field(default_factory=list)

    @property
    def n_train_tokens(self) -> int:
        return int(sum(max(len(s) - 1, 0) for s in self.train))

    @property
    def n_val_tokens(self) -> int:
        return int(sum(max(len(s) - 1, 0) for s in self.val))

    def summary(self) -> dict[str, int]:
        return {
            "train_pieces": len(self.train),
            "val_pieces": len(self.val),
            "train_tokens": self.n_train_tokens,
            "val_tokens": self.n_val_tokens,
            "vocab_size": len(self.vocab),
        }


def split_by_piece(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of training and validation pieces; at least one of each when n >= 2."""
    order = np.random.default_rng(seed).permutation(n)
    n_val = round(n * val_fraction)
    if val_fraction > 0 and n >= 2:
        n_val = min(max(n_val, 1), n - 1)
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def build_dataset(pieces: list[Piece], cfg: DataConfig, *, vocab: Vocabulary | None = None) -> SequenceDataset:
    """Encode pieces, drop exact duplicates, split by piece, fit (or reuse) the vocabulary, augment the train split
    (with transposed copies, except for a representation that ``transposes_on_the_fly``).

    A piece whose sequence equals an earlier piece's is left out (and named in ``duplicates``);
    one too short to hold a target is left out too.
    """
    cfg.validate()
    if not pieces:
        raise DatasetError("The dataset has no pieces. Upload MIDI files or pick the built-in corpus.")
    rep = for_vocab(vocab) if vocab is not None else for_config(cfg)
    seqs = [rep.sequence(p) for p in pieces]
    keep, duplicates, seen = [], [], set()
    for i, seq in enumerate(seqs):
        key = rep.dedupe_key(seq)
        if key in seen:  # an exact copy would sit on both sides of the split and flatter held-out scores
            duplicates.append(pieces[i].name)
        elif len(seq) >= rep.min_length:
            seen.add(key)
            keep.append(i)
    if not keep:
        raise DatasetError(rep.empty_message)
    train_idx, val_idx = split_by_piece(len(keep), cfg.val_fraction, cfg.split_seed)
    train_idx, val_idx = [keep[i] for i in train_idx], [keep[i] for i in val_idx]
    sources = [(pieces[i].name, pieces[i], seqs[i]) for i in train_idx]
    moved, moved_names, origins = transposed_copies(rep, sources, cfg.transpose)
    train = [seq for _, _, seq in sources] + moved
    train_names = [name for name, _, _ in sources] + moved_names
    tempo_of = {i: round(rep.playback_tempo(pieces[i]), 2) for i in (*train_idx, *val_idx)}
    # a transposed copy plays at the tempo of the piece it was moved from
    train_tempos = [tempo_of[i] for i in train_idx] + [tempo_of[train_idx[k]] for k in origins]
    rep.fit_vocab(train)
    return SequenceDataset(
        vocab=rep.vocab,
        config=cfg,
        train=[rep.ids(s) for s in train],
        val=[rep.ids(seqs[i]) for i in val_idx],
        train_names=train_names,
        val_names=[pieces[i].name for i in val_idx],
        duplicates=duplicates,
        train_tempos=train_tempos,
        val_tempos=[tempo_of[i] for i in val_idx],
    )


def transposed_copies(
    rep: Representation, sources: list[tuple[str, Piece | None, Any]], transpose: tuple[int, int]
) -> tuple[list[Any], list[str], list[int]]:
    """The sequences of ``sources`` (name, piece or None, sequence) moved by every non-zero shift in
    ``transpose`` (augmentation of a training split), with their names ("name (+2)") and, for each
    copy, the index in ``sources`` of the piece it was moved from.
    Copies left empty by the shift (every note pushed out of range) are dropped. A representation
    that ``transposes_on_the_fly`` gets none: its training pipeline applies ``transpose`` itself."""
    if rep.transposes_on_the_fly:
        return [], [], []
    lo, hi = transpose
    seqs, names, origins = [], [], []
    for shift in (s for s in range(lo, hi + 1) if s):
        for k, (name, piece, seq) in enumerate(sources):
            moved = rep.transposed(piece, seq, shift)
            if len(moved):
                seqs.append(moved)
                names.append(f"{name} ({shift:+d})")
                origins.append(k)
    return seqs, names, origins
