"""The vocabulary of a token representation: an ordered token list saved as a run's vocab.json.

Ids 0, 1, 2 are always ``<pad>``, ``<unk>`` and ``<bos>`` (defined here, once). A piano-roll
run has a vocabulary too (the specials and the 88 keys), so that every run folder reads the same.
"""

from __future__ import annotations

import json
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from musegen.errors import ConfigError
from musegen.fileio import atomic_write_text
from musegen.jsonio import JsonError, parse_json
from musegen.modelfile import MAX_VOCAB

PAD, UNK, BOS = "<pad>", "<unk>", "<bos>"
SPECIALS = (PAD, UNK, BOS)
PAD_ID, UNK_ID, BOS_ID = 0, 1, 2
# fill-in-the-middle sentinels (Bavarian et al. 2022): a run trained with DataConfig.fim_rate > 0 has them
# after its other tokens, so the ids of every other token are those of the same vocabulary without them
FIM_PREFIX, FIM_SUFFIX, FIM_MIDDLE, FIM_END = "<fim_prefix>", "<fim_suffix>", "<fim_middle>", "<fim_end>"
FIM_TOKENS = (FIM_PREFIX, FIM_SUFFIX, FIM_MIDDLE, FIM_END)
MAX_TOKEN_CHARS = 256  # musegen's longest tokens (classic chords, piano-roll frames) have a few dozen
MAX_VOCAB_BYTES = 16 * 1024 * 1024  # of vocab.json (a timed vocabulary is ~3 KB)


@dataclass
class Vocabulary:
    """An ordered token list; ids 0, 1, 2 are always ``<pad>``, ``<unk>``, ``<bos>``."""

    tokens: list[str]
    representation: str
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if tuple(self.tokens[:3]) != SPECIALS:
            raise ConfigError("a vocabulary must start with <pad>, <unk>, <bos>; rebuild it with build_vocab().")
        self._index = {t: i for i, t in enumerate(self.tokens)}

    pad_id, unk_id, bos_id = PAD_ID, UNK_ID, BOS_ID

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: str) -> bool:
        return token in self._index

    def encode(self, tokens: Iterable[str]) -> np.ndarray:
        return np.fromiter((self._index.get(t, UNK_ID) for t in tokens), dtype=np.int32)

    def decode(self, ids: Iterable[int]) -> list[str]:
        n = len(self.tokens)
        return [self.tokens[i] if 0 <= i < n else UNK for i in (int(x) for x in ids)]

    def fim_ids(self) -> tuple[int, int, int, int] | None:
        """Ids of the four fill-in-the-middle sentinels (prefix, suffix, middle, end); None without them."""
        if not all(t in self._index for t in FIM_TOKENS):
            return None
        return tuple(self._index[t] for t in FIM_TOKENS)  # type: ignore[return-value]

    def with_fim(self) -> Vocabulary:
        """This vocabulary with the fill-in-the-middle sentinels appended (itself when it has them)."""
        if self.fim_ids() is not None:
            return self
        return Vocabulary([*self.tokens, *FIM_TOKENS], self.representation, {**self.meta, "fim": True})

    def to_dict(self) -> dict[str, Any]:
        return {"representation": self.representation, "meta": self.meta, "tokens": self.tokens}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Vocabulary:
        """A vocabulary from vocab.json's content, checked: ConfigError saying what is wrong with it."""
        if not isinstance(d, dict):
            raise ConfigError(f"vocab.json holds a {type(d).__name__}, not a musegen vocabulary; {_REDO}")
        missing = [k for k in ("tokens", "representation") if k not in d]
        if missing:
            raise ConfigError(f"vocab.json is not a musegen vocabulary (missing {missing[0]!r}); {_REDO}")
        tokens, representation, meta = d["tokens"], d["representation"], d.get("meta", {})
        if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
            raise ConfigError(f"vocab.json's tokens must be a list of strings; {_REDO}")
        if not 3 <= len(tokens) <= MAX_VOCAB:
            raise ConfigError(f"vocab.json has {len(tokens):,} tokens; musegen's have 3 to {MAX_VOCAB:,}. {_REDO}")
        if any(len(t) > MAX_TOKEN_CHARS for t in tokens):
            raise ConfigError(f"vocab.json has a token longer than {MAX_TOKEN_CHARS} characters; {_REDO}")
        if len(set(tokens)) != len(tokens):
            raise ConfigError(f"vocab.json lists a token twice; {_REDO}")
        if not isinstance(representation, str) or not representation:
            raise ConfigError(f"vocab.json's representation must be a name, got {str(representation)[:40]!r}; {_REDO}")
        if meta is None:
            meta = {}
        if not isinstance(meta, dict):
            raise ConfigError(f"vocab.json's meta must be an object of settings, got a {type(meta).__name__}; {_REDO}")
        return cls(list(tokens), representation, dict(meta))

    def save(self, path: str | Path) -> None:
        atomic_write_text(Path(path), json.dumps(self.to_dict(), indent=1))

    @classmethod
    def load(cls, path: str | Path) -> Vocabulary:
        """vocab.json, read with a size and nesting limit; ConfigError when it is missing or damaged."""
        path = Path(path)
        try:
            info = path.stat()
            if not stat.S_ISREG(info.st_mode):
                raise ConfigError(f"cannot read the vocabulary {path}: it is not a regular file; {_REDO}")
            if info.st_size > MAX_VOCAB_BYTES:
                raise ConfigError(f"the vocabulary {path} is {info.st_size:,} bytes, far more than any; {_REDO}")
            with path.open("rb") as fh:
                data = fh.read(MAX_VOCAB_BYTES + 1)
            return cls.from_dict(parse_json(data, str(path), max_bytes=MAX_VOCAB_BYTES))
        except (OSError, JsonError) as exc:
            raise ConfigError(f"cannot read the vocabulary {path}: {exc}; {_REDO}") from exc


_REDO = "train the run again or put back its vocab.json."
