"""From pieces to training data: tokens, the vocabulary, a split by piece, windows.

Sequences start with ``<bos>`` so that a model learns (and is scored on) every real
token of a piece. Windows are many-to-many: the target of position t is the token at
t + 1, so a window of 128 gives 128 targets instead of the tutorial's one. Pieces
shorter than the window are padded (and their padded targets ignored by the loss);
none is silently dropped. The classic path keeps the tutorial's one-target windows,
which do drop short pieces, and says how many.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from musegen.config import DataConfig
from musegen.errors import DatasetError
from musegen.notes import Piece
from musegen.tokens import Tokenizer, Vocabulary, make_tokenizer


@dataclass
class TokenDataset:
    """Token-id sequences per piece, split by piece. Each sequence starts with ``<bos>``."""

    vocab: Vocabulary
    config: DataConfig
    train: list[np.ndarray] = field(default_factory=list)
    val: list[np.ndarray] = field(default_factory=list)
    train_names: list[str] = field(default_factory=list)
    val_names: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)  # pieces dropped as exact copies of another

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


def build_token_dataset(
    pieces: list[Piece], cfg: DataConfig, *, vocab: Vocabulary | None = None, tokenizer: Tokenizer | None = None
) -> TokenDataset:
    """Tokenize pieces, drop exact duplicates, split by piece, build (or reuse) the vocabulary, augment the train split.

    A piece whose tokens equal an earlier piece's is left out (and named in ``duplicates``):
    the music21 corpus holds a few chorales twice, and a copy on each side of the split would
    make every held-out score look better than it is. With ``cfg.representation == "pianoroll"``
    the result is a :class:`~musegen.pianoroll.FrameDataset` ((T, 88) frames per piece instead
    of token ids; the same split and duplicate rule).
    """
    cfg.validate()
    if cfg.representation == "pianoroll":  # frames, not tokens: same split, same duplicate rule
        from musegen.pianoroll import build_frame_dataset

        return build_frame_dataset(pieces, cfg)  # type: ignore[return-value]
    if not pieces:
        raise DatasetError("The dataset has no pieces. Upload MIDI files or pick the built-in corpus.")
    tokenizer = tokenizer or make_tokenizer(cfg)
    token_lists = [tokenizer.tokenize(p) for p in pieces]
    keep, duplicates, seen = [], [], set()
    for i, tokens in enumerate(token_lists):
        key = hash(tuple(tokens))
        if key in seen:  # an exact copy would sit on both sides of the split and flatter held-out scores
            duplicates.append(pieces[i].name)
        elif tokens:
            seen.add(key)
            keep.append(i)
    if not keep:
        raise DatasetError("No piece produced any token. Check the instrument filter and the files.")
    train_idx, val_idx = split_by_piece(len(keep), cfg.val_fraction, cfg.split_seed)
    train_idx, val_idx = [keep[i] for i in train_idx], [keep[i] for i in val_idx]
    train_tokens = [token_lists[i] for i in train_idx]
    lo, hi = cfg.transpose
    train_names = [pieces[i].name for i in train_idx]
    for shift in range(lo, hi + 1):
        if shift == 0:
            continue
        for i in train_idx:
            moved = tokenizer.tokenize(pieces[i].transposed(shift))
            if moved:
                train_tokens.append(moved)
                train_names.append(f"{pieces[i].name} ({shift:+d})")
    vocab = vocab or tokenizer.build_vocab(train_tokens)
    return TokenDataset(
        vocab=vocab,
        config=cfg,
        train=[_with_bos(vocab, t) for t in train_tokens],
        val=[_with_bos(vocab, token_lists[i]) for i in val_idx],
        train_names=train_names,
        val_names=[pieces[i].name for i in val_idx],
        duplicates=duplicates,
    )


def _with_bos(vocab: Vocabulary, tokens: list[str]) -> np.ndarray:
    return np.concatenate([[vocab.bos_id], vocab.encode(tokens)]).astype(np.int32)


def window_starts(n: int, window: int, stride: int) -> list[int]:
    """Starts of windows over ``n`` positions: every ``stride``, plus one aligned to the end, so none is lost."""
    starts = list(range(0, max(n - window, 0) + 1, stride))
    if starts[-1] + window < n:
        starts.append(n - window)
    return starts


def next_token_windows(
    seqs: list[np.ndarray], window: int, stride: int, pad_id: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Many-to-many windows: ``x[i, t]`` predicts ``y[i, t]`` (the next token).

    Every target of every sequence appears in at least one window: a sequence shorter
    than the window becomes one padded window, and the last window of a long one is
    aligned to its end. Padded targets are ``pad_id``; the loss must ignore them.
    """
    xs, ys = [], []
    for seq in seqs:
        inputs, targets = seq[:-1], seq[1:]
        n = len(inputs)
        if n == 0:
            continue
        for s in window_starts(n, window, stride):
            x = np.full(window, pad_id, dtype=np.int32)
            y = np.full(window, pad_id, dtype=np.int32)
            chunk = inputs[s : s + window]
            x[: len(chunk)] = chunk
            y[: len(chunk)] = targets[s : s + window]
            xs.append(x)
            ys.append(y)
    if not xs:
        return np.zeros((0, window), np.int32), np.zeros((0, window), np.int32)
    return np.stack(xs), np.stack(ys)


def classic_windows(
    seqs: list[np.ndarray], window: int, n_vocab: int, bos_id: int = 2
) -> tuple[np.ndarray, np.ndarray]:
    """The tutorial's windows: ``window`` ids scaled to ``id / n_vocab`` predict the next id.

    A piece not longer than the window gives no window at all (the tutorial's loss);
    see :func:`classic_coverage` for how many pieces that leaves out.
    """
    xs, ys = [], []
    for seq in seqs:
        ids = seq[1:] if len(seq) and seq[0] == bos_id else seq
        for i in range(len(ids) - window):
            xs.append(ids[i : i + window])
            ys.append(ids[i + window])
    if not xs:
        return np.zeros((0, window, 1), np.float32), np.zeros((0,), np.int32)
    x = (np.stack(xs).astype(np.float32) / float(n_vocab))[..., None]
    return x, np.asarray(ys, dtype=np.int32)


def classic_coverage(seqs: list[np.ndarray], window: int) -> float:
    """Share of pieces that give the tutorial's windows at least one example."""
    if not seqs:
        return 0.0
    return float(np.mean([len(s) - 1 > window for s in seqs]))
