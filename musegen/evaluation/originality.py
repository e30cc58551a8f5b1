"""Originality against each body of music a model learned from: the run's own pieces, and its base's corpus.

A run trained from scratch learned only its training pieces. A fine-tuned run learned the user's
pieces *and*, before them, the corpus its base model was pretrained on, so a passage it hands back may
come from either; the two are checked separately and reported side by side (the Generate page and
``generate --json``: ``originality`` and ``originality_base``).

The base's corpus is not in the run folder (its token store is rebuilt, not shipped), so ``pretrain``
writes :data:`BASE_INDEX` beside the base model: the corpus's training pieces as an originality index
(:mod:`musegen.metrics.originality_file`, about 2 bytes a note). A base without that file (trained
before it existed, or elsewhere) is checked against nothing, and the report says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from musegen.errors import ModelLoadError
from musegen.generation.compose import Composer
from musegen.metrics.originality import Copy, OriginalityIndex
from musegen.metrics.originality_file import load_index, save_index
from musegen.notes import Piece
from musegen.representations.registry import for_vocab
from musegen.streams.store import TRAIN, TokenStore

BASE_INDEX = "originality.npz"  # in a base model's run folder
TRAINING, YOURS, BASES = "the training data", "your pieces", "the base model's corpus"


@dataclass(frozen=True)
class Source:
    """One body of music a run learned from, indexed for the originality check."""

    label: str  # TRAINING (a run from scratch), or YOURS and BASES (a fine-tuned run)
    index: OriginalityIndex | None
    note: str = ""  # why there is no index (a damaged file), said in place of a finding


@dataclass(frozen=True)
class Finding:
    """The longest passage a generated piece shares with one source."""

    label: str
    copy: Copy | None
    note: str = ""

    @property
    def flagged(self) -> bool:
        return self.copy is not None and self.copy.flagged

    def describe(self) -> str:
        return self.copy.describe(where=self.label) if self.copy is not None else self.note

    def to_dict(self) -> dict:
        return self.copy.to_dict() if self.copy is not None else {"note": self.note}


def corpus_index(store: TokenStore) -> OriginalityIndex:
    """The originality index of a token store's training pieces, decoded to notes one at a time."""
    rep = for_vocab(store.vocab)
    chosen = store.indices(TRAIN)
    names = store.names(chosen)
    pieces = (rep.decode(store.piece(int(i)), name) for i, name in zip(chosen, names, strict=True))
    return OriginalityIndex.from_pieces(pieces)


def write_base_index(run_dir: str | Path, store: TokenStore) -> Path:
    """Write the index of ``store``'s training pieces into the base run folder ``run_dir``; its path."""
    return save_index(corpus_index(store), Path(run_dir) / BASE_INDEX)


@lru_cache(maxsize=2)
def _base_index(path: str, stamp: float) -> OriginalityIndex:
    return load_index(path)


def base_index(base_dir: str | Path) -> OriginalityIndex | None:
    """The base run's corpus index (read once per file version), or None when the base has none."""
    path = Path(base_dir) / BASE_INDEX
    if not path.is_file():
        return None
    return _base_index(str(path), path.stat().st_mtime)


def sources(composer: Composer) -> list[Source]:
    """What the composer's run learned from: its own pieces, then its base's corpus when it has one."""
    base = composer.config.base
    found = [Source(YOURS if base else TRAINING, OriginalityIndex.from_pieces(composer.training_pieces()))]
    if base and Path(base).is_dir():
        try:
            index = base_index(base)
        except ModelLoadError as exc:  # the run is still checked against its own pieces
            found.append(Source(BASES, None, f"not checked against the base model's corpus: {exc}"))
        else:
            if index is not None:
                found.append(Source(BASES, index))
    return found


def check(found: list[Source], piece: Piece) -> list[Finding]:
    """The longest passage of ``piece`` shared with each source."""
    return [Finding(s.label, s.index.longest_copy(piece) if s.index is not None else None, s.note) for s in found]
