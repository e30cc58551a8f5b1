"""The codec part of the Representation interface: a piece <-> the sequence a model reads.

Read this part first; every other part uses it. A codec writes a :class:`~musegen.notes.Piece` as a
sequence (``sequence``: token strings, or piano-roll frames), fits its vocabulary on the training
sequences (``fit_vocab``), turns a sequence into what is stored and fed to a model (``ids``) and
ids back into notes (``decode``). It also says how much of a piece it can write (``known``), how
many beats a sequence covers (``time_cursor``) and which elements make which note
(``element_notes``), and it names the representation (``name``, ``label``) and its settings.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar, Protocol

import numpy as np

from musegen.config import DataConfig, clamp_tempo
from musegen.errors import ConfigError
from musegen.notes import Piece
from musegen.vocabulary import Vocabulary


class Tokenizer(Protocol):
    """Piece <-> token strings, and the vocabulary of a set of token lists."""

    representation: str

    def tokenize(self, piece: Piece) -> list[str]: ...

    def detokenize(self, tokens: Sequence[str], name: str = "generated") -> Piece: ...

    def build_vocab(self, token_lists: Iterable[list[str]]) -> Vocabulary: ...


def check_ids(seed: np.ndarray, width: int) -> np.ndarray:
    """``seed`` as int64 ids (T,), or a ConfigError when one is outside a model's ``width`` tokens."""
    seed = np.asarray(seed, dtype=np.int64).reshape(-1)
    if seed.size and (seed.min() < 0 or seed.max() >= width):
        raise ConfigError(f"seed token ids must be in 0..{width - 1} for this model; got {seed.min()}..{seed.max()}.")
    return seed


class Codec(ABC):
    """Piece <-> sequence <-> ids, the vocabulary, and what a sequence means in music."""

    name: ClassVar[str]  # the registry's key, stored in config.json and vocab.json
    label: ClassVar[str]  # one line for people (the Dataset page's choice)
    unit: ClassVar[str] = "token"  # what one model step reads and predicts, and what an NLL is per
    uses_grid: ClassVar[bool] = True  # whether DataConfig.steps_per_beat matters
    # for people: what one model step is called (plural), the size of what it predicts
    unit_name: ClassVar[str] = "tokens"
    size_label: ClassVar[str] = "Vocabulary"
    size_help: ClassVar[str] = "distinct tokens, with <pad>, <unk> and <bos>"
    min_length: ClassVar[int] = 1  # elements (before ids) a piece needs to be kept in a dataset
    empty_message: ClassVar[str] = "No piece produced any token. Check the instrument filter and the files."
    # a representation whose decoded pieces always sound right at one tempo (BPM; 0: the source's tempo counts)
    fixed_tempo: ClassVar[float] = 0.0
    # velocity: "none" (notes decode at one loudness), "optional" (DataConfig.velocity decides) or "always"
    dynamics: ClassVar[str] = "none"
    keeps_played_timing: ClassVar[bool] = False  # onsets in real time, not on a grid: for music played, not written
    span_unit: ClassVar[str] = "beats"  # what a span to fill in is chosen in (musegen.steering.infill.SPAN_UNITS)

    tokenizer: Tokenizer  # the representation as readable tokens (statistics, the classic vocabulary)

    def __init__(self, vocab: Vocabulary | None = None):
        self._vocab = vocab

    # ------------------------------------------------------------------ construction

    @classmethod
    @abstractmethod
    def from_config(cls, cfg: DataConfig) -> Codec:
        """The representation with the settings of ``cfg`` (its vocabulary fitted later, if it depends on data)."""

    @classmethod
    @abstractmethod
    def from_vocab(cls, vocab: Vocabulary) -> Codec:
        """The representation a saved vocabulary was built with (settings travel in ``vocab.meta``)."""

    @property
    def vocab(self) -> Vocabulary:
        if self._vocab is None:
            raise ConfigError(f"the {self.name} representation has no vocabulary yet; fit it on the training data.")
        return self._vocab

    @property
    def units(self) -> str:
        """The unit in the plural, for people: "tokens", "frames"."""
        return self.unit + "s"

    def unit_help(self) -> str:
        """What one step means in music, for help texts."""
        return f"{self.label.split(' — ')[0]} tokens."

    # ------------------------------------------------------------------ piece <-> sequence <-> ids

    @abstractmethod
    def sequence(self, piece: Piece) -> Any:
        """``piece`` in this representation before ids: a token list, or frames. Empty when nothing is left."""

    def transposed(self, piece: Piece | None, seq: Any, semitones: int) -> Any:
        """The sequence ``seq`` of ``piece`` moved by ``semitones`` (augmentation); notes leaving the range go.

        Token representations tokenize the moved piece again; frames move ``seq`` itself (``piece``
        may then be None, as for the JSB benchmark's pieces, which come as frames).
        """
        if piece is None:
            raise ConfigError(f"the {self.name} representation transposes pieces, not bare sequences.")
        return self.sequence(piece.transposed(semitones))

    def dedupe_key(self, seq: Any) -> Any:
        """A hashable key under which two equal sequences collide (exact duplicates are dropped)."""
        return hash(tuple(seq))

    @abstractmethod
    def fit_vocab(self, train: Sequence[Any]) -> Vocabulary:
        """The vocabulary for these training sequences (a closed one ignores them); sets ``self.vocab``."""

    @abstractmethod
    def ids(self, seq: Any) -> np.ndarray:
        """What is stored and fed to the model for ``seq``: int32 ids starting with ``<bos>``, or frames."""

    def encode(self, piece: Piece) -> np.ndarray:
        """``ids(sequence(piece))``: a piece as the model reads it."""
        return self.ids(self.sequence(piece))

    @abstractmethod
    def decode(self, ids: np.ndarray, name: str = "generated") -> Piece:
        """Notes of stored or generated ids (malformed orders are repaired, never fatal)."""

    def tokens(self, piece: Piece) -> list[str]:
        """``piece`` as readable tokens, for statistics (a frame reads as one token)."""
        return self.tokenizer.tokenize(piece)

    # ------------------------------------------------------------------ what a sequence means

    @abstractmethod
    def known(self, piece: Piece) -> tuple[int, int]:
        """(known, total): how many of ``piece``'s events this representation and vocabulary can express."""

    @abstractmethod
    def known_range(self) -> str:
        """What the model can play, for messages: "pitches C2-A5", "the 88 piano keys"."""

    @abstractmethod
    def time_cursor(self, ids: np.ndarray) -> float:
        """Beats from the start of ``ids`` to where the next element would be placed."""

    def tokens_per_beat(self, samples: Sequence[np.ndarray] = ()) -> float:
        """Elements per beat of music, measured on ``samples`` (stored sequences); 8 without any."""
        n = beats = 0.0
        for ids in samples:
            n += len(ids)
            beats += self.time_cursor(ids)
        return n / beats if beats else 8.0

    def playback_tempo(self, piece: Piece, start: float = 0.0, end: float | None = None) -> float:
        """The constant tempo (BPM) at which this representation's decoding of beats [start, end) of ``piece``
        lasts as long as the original: the mean tempo of its tempo map over that stretch (``fixed_tempo``
        for a representation that decodes to one tempo, such as times in seconds at 120 BPM)."""
        if self.fixed_tempo:
            return float(self.fixed_tempo)
        end = piece.length_beats if end is None else end
        if end <= start:
            return float(piece.tempo_at(start))
        seconds = float(piece.seconds(end) - piece.seconds(start))
        return clamp_tempo(60.0 * (end - start) / seconds) if seconds > 0 else float(piece.tempo)

    def element_notes(self, ids: np.ndarray) -> np.ndarray:
        """Which elements of ``ids`` make which note of ``decode(ids)``: (M, 2) int64 rows (element, note).

        ``element`` is a flat index into an array of ``np.shape(ids)`` (one value per token; one per
        frame and key for frames), ``note`` a row of ``decode(ids).notes``, in that order. An element
        may make several notes (a chord event) and a note several elements (a pitch and its duration);
        elements that make no note are left out. The surprise per note
        (:mod:`musegen.evaluation.surprise`) sums the NLL of a note's elements. By default no element
        is attributed to a note (the surprise per note is then unknown; the piece's mean still is).
        """
        return np.zeros((0, 2), np.int64)
