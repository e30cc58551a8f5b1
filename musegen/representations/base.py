"""The Representation interface: everything that differs between ways of writing music for a model.

A representation turns a :class:`~musegen.notes.Piece` into the sequence a model reads
(token ids, piano-roll frames, ...) and back, and owns every decision that depends on that
choice, so that no other layer needs to branch on it:

- codec: ``sequence(piece)`` (tokens as strings, or frames), ``fit_vocab``, ``ids`` (what is
  stored in a run's data.npz and fed to the model), ``decode`` (back to notes), ``transposed``;
- model: ``archs`` (the architectures that can read it), ``build_model`` (input adapter, backbone,
  output head and loss, compiled), ``output_width``;
- training data: ``training_data`` (the tf.data pipelines a run trains and validates on; by default
  ``windows`` (x, y, mask) -> ``batches`` (tf.data batching), ``val_batch``), and
  ``transposes_on_the_fly`` (whether the pipeline transposes, so datasets store no copies);
- scoring: ``unit`` (what one NLL is per), ``score`` (held-out model scores), ``floor`` (the
  baseline a model must beat), ``uniform_nll``;
- generation: ``start`` (the seed of an empty prompt), ``sample`` (one sampling step),
  ``time_cursor`` (beats covered by a sequence), ``known`` (how much of a piece it can express).

Instances are cheap: they hold the representation's settings and, once known, the vocabulary.
Make one with :func:`musegen.representations.registry.for_config` (from data settings, before
the vocabulary exists) or :func:`~musegen.representations.registry.for_vocab` (from a run).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import numpy as np

from musegen.config import ConstraintConfig, DataConfig, ModelConfig, RunConfig, SamplingConfig
from musegen.errors import ConfigError
from musegen.notes import Piece
from musegen.steering.constraints import Constraint
from musegen.steering.infill import InfillPlan
from musegen.streams.training_data import TrainingData
from musegen.vocabulary import Vocabulary

if TYPE_CHECKING:
    import keras


class Tokenizer(Protocol):
    """Piece <-> token strings, and the vocabulary of a set of token lists."""

    representation: str

    def tokenize(self, piece: Piece) -> list[str]: ...

    def detokenize(self, tokens: Sequence[str], name: str = "generated") -> Piece: ...

    def build_vocab(self, token_lists: Iterable[list[str]]) -> Vocabulary: ...


class Representation(ABC):
    """One representation with its settings (and its vocabulary once fitted)."""

    name: ClassVar[str]  # the registry's key, stored in config.json and vocab.json
    label: ClassVar[str]  # one line for people (the Dataset page's choice)
    unit: ClassVar[str] = "token"  # what one model step reads and predicts, and what an NLL is per
    archs: ClassVar[tuple[str, ...]] = ("wavenet", "lstm", "transformer")  # the architectures that can read it
    heads: ClassVar[tuple[str, ...]] = ("independent",)  # ModelConfig.head values its models can have
    uses_grid: ClassVar[bool] = True  # whether DataConfig.steps_per_beat matters
    # for people: what one model step is called (plural), the size of what it predicts, the metrics' meaning
    unit_name: ClassVar[str] = "tokens"
    size_label: ClassVar[str] = "Vocabulary"
    size_help: ClassVar[str] = "distinct tokens, with <pad>, <unk> and <bos>"
    metric_help: ClassVar[tuple[str, str, str]] = (
        "mean negative log-likelihood per token, nats",
        "exp(NLL): as unsure as a uniform choice among this many tokens",
        "top-1 next-token accuracy",
    )
    min_length: ClassVar[int] = 1  # elements (before ids) a piece needs to be kept in a dataset
    min_seed: ClassVar[int] = 2  # ids a seed needs (``<bos>`` and one token; one frame)
    empty_message: ClassVar[str] = "No piece produced any token. Check the instrument filter and the files."
    # True when ``training_data`` applies ``DataConfig.transpose`` itself, example by example: the
    # dataset then holds each training piece once (no transposed copies)
    transposes_on_the_fly: ClassVar[bool] = False
    # a representation whose decoded pieces always sound right at one tempo (BPM; 0: the source's tempo counts)
    fixed_tempo: ClassVar[float] = 0.0
    # velocity: "none" (notes decode at one loudness), "optional" (DataConfig.velocity decides) or "always"
    dynamics: ClassVar[str] = "none"
    keeps_played_timing: ClassVar[bool] = False  # onsets in real time, not on a grid: for music played, not written

    tokenizer: Tokenizer  # the representation as readable tokens (statistics, the classic vocabulary)

    def __init__(self, vocab: Vocabulary | None = None):
        self._vocab = vocab

    # ------------------------------------------------------------------ construction

    @classmethod
    @abstractmethod
    def from_config(cls, cfg: DataConfig) -> Representation:
        """The representation with the settings of ``cfg`` (its vocabulary fitted later, if it depends on data)."""

    @classmethod
    @abstractmethod
    def from_vocab(cls, vocab: Vocabulary) -> Representation:
        """The representation a saved vocabulary was built with (settings travel in ``vocab.meta``)."""

    @classmethod
    def learns(cls, cfg: DataConfig) -> str:
        """What a model of this representation with ``cfg`` learns, in words (for the Train page and the CLI)."""
        return cls.label.split(" — ", 1)[-1]

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

    def check_arch(self, arch: str) -> None:
        """ConfigError unless ``arch`` can read this representation."""
        if arch not in self.archs:
            raise ConfigError(
                f"{arch} cannot read {self.label.split(' — ')[0]}; choose {' or '.join(self.archs)} "
                f"for the {self.name} representation."
            )

    def check_head(self, head: str) -> None:
        """ConfigError unless this representation's models can have the output head ``head``."""
        if head not in self.heads:
            raise ConfigError(
                f"the {head} head does not apply to {self.label.split(' — ')[0]}; it draws the keys of piano-roll "
                f"frames. Choose the piano-roll representation, or the {self.heads[0]} head."
            )

    # ------------------------------------------------------------------ codec

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

    # ------------------------------------------------------------------ model and training data

    def output_width(self) -> int:
        """How many scores the model gives per step (the vocabulary, or the keys)."""
        return len(self.vocab)

    @abstractmethod
    def build_model(self, config: RunConfig) -> keras.Model:
        """A fresh model for ``config.model`` reading this representation, compiled with its loss."""

    def training_data(
        self,
        train_seqs: Sequence[np.ndarray],
        val_seqs: Sequence[np.ndarray],
        config: RunConfig,
        global_batch: int,
        seed: int,
    ) -> TrainingData:
        """The tf.data pipelines of a run: (x, y, w) batches of ``train_seqs`` (shuffled every epoch with
        ``seed``) and of ``val_seqs``, ``global_batch`` examples per batch (clipped to the examples).

        By default: ``windows`` of the training sequences (``config.data.window`` and ``stride``) in
        memory, shuffled, then ``batches``; validation windows without overlap, ``val_batch`` per
        batch. ``samples`` is 0 (and the datasets None) when there is no training window.
        """
        import tensorflow as tf

        window = config.data.window
        x, y, w = self.train_windows(list(train_seqs), config, seed)
        val = self.windows(list(val_seqs), window, window, config.model) if len(val_seqs) else None
        val = None if val is None or len(val[1]) == 0 else val
        if len(y) == 0:
            return TrainingData(None, None, 0, 0)
        global_batch = min(global_batch, len(y))
        train_ds = tf.data.Dataset.from_tensor_slices((x, y, w)).shuffle(
            len(y), seed=seed, reshuffle_each_iteration=True
        )
        train_ds, n_batches = self.batches(train_ds, w, global_batch)
        val_ds = None
        if val is not None:
            val_batch = self.val_batch(len(val[1]), window, global_batch)
            val_ds = tf.data.Dataset.from_tensor_slices(val).batch(val_batch).prefetch(2)
        return TrainingData(train_ds.prefetch(2), val_ds, len(y), int(global_batch), n_batches)

    def train_windows(
        self, seqs: Sequence[np.ndarray], config: RunConfig, seed: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The training arrays of the default ``training_data``: ``windows`` (token runs add their
        fill-in-the-middle examples here, drawn with ``seed``)."""
        return self.windows(seqs, config.data.window, config.data.stride, config.model)

    def windows(
        self, seqs: Sequence[np.ndarray], window: int, stride: int, model: ModelConfig
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Training arrays (x, y, w) of ``seqs`` for a model of ``model``: w is 0 where a target is padding.

        Used by the default ``training_data``; a representation that overrides it need not have windows.
        """
        raise ConfigError(f"the {self.name} representation streams its training data (training_data), no windows.")

    def batches(self, dataset: Any, mask: np.ndarray, batch: int) -> tuple[Any, int]:
        """Batch a shuffled ``tf.data`` dataset of (x, y, w); returns it and its batches per epoch (0: plain)."""
        return dataset.batch(batch), 0

    def val_batch(self, n_windows: int, window: int, global_batch: int) -> int:
        """Windows per validation batch."""
        return min(global_batch, n_windows)

    def store_training_data(self, store: Any, config: RunConfig, global_batch: int, seed: int) -> TrainingData:
        """:meth:`training_data` read from a token store (:class:`musegen.streams.store.TokenStore`), whose
        windows stream from disk: the same (x, y, w) batches, never the whole corpus in memory."""
        raise ConfigError(
            f"the {self.name} representation cannot train from a token store; train it from --data instead."
        )

    # ------------------------------------------------------------------ scoring

    @abstractmethod
    def score(self, model: Any, val: list[np.ndarray], window: int, arch: str) -> dict[str, Any]:
        """Held-out scores of ``model`` on ``val``: nll (per unit), perplexity, accuracy, tokens."""

    @abstractmethod
    def floor(self, train: list[np.ndarray], val: list[np.ndarray]) -> dict[str, Any]:
        """The baseline every model must beat, fitted on ``train`` and scored on ``val`` (same targets)."""

    def floor_label(self, baseline: dict[str, Any]) -> str:
        """The floor's name for people."""
        return f"{baseline.get('order')}-gram baseline"

    def uniform_nll(self) -> float:
        """NLL of a uniform guess, per unit."""
        return math.log(self.output_width())

    perplexity_per: ClassVar[int] = 1  # perplexity is exp(NLL / this): 88 for frames (per key)

    # ------------------------------------------------------------------ generation

    @abstractmethod
    def start(self) -> np.ndarray:
        """The seed of an empty prompt (``[<bos>]``, or one silent frame)."""

    @abstractmethod
    def sample(self, logits: np.ndarray, cfg: SamplingConfig, rng: np.random.Generator) -> np.ndarray:
        """One sampling step: the next element of every row of ``logits`` (B, width)."""

    def has_duration_tokens(self) -> bool:
        """Whether notes' lengths are tokens of their own, drawn at ``SamplingConfig.duration_temperature``."""
        return False

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

    def check_seed(self, seed: np.ndarray) -> np.ndarray:
        """``seed`` as the model reads it, or a ConfigError that says what is wrong with it."""
        return np.asarray(seed)

    @abstractmethod
    def known(self, piece: Piece) -> tuple[int, int]:
        """(known, total): how many of ``piece``'s events this representation and vocabulary can express."""

    @abstractmethod
    def known_range(self) -> str:
        """What the model can play, for messages: "pitches C2-A5", "the 88 piano keys"."""

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
        return float(np.clip(60.0 * (end - start) / seconds, 20.0, 400.0)) if seconds > 0 else float(piece.tempo)

    def motif_skip_ids(self) -> np.ndarray | None:
        """The elements the motif memory (:mod:`musegen.steering.motif`) leaves out of the figures it
        remembers; None when this representation has no motif memory (frames are not tokens)."""
        return None

    # ------------------------------------------------------------------ steering: constraints and infilling

    def constraint(self, cfg: ConstraintConfig | None, batch: int, plan: InfillPlan | None = None) -> Constraint | None:
        """The sampling-time rules of ``cfg`` (and of an infilled middle's ``plan``) for ``batch`` sequences
        (:mod:`musegen.steering.constraints`); None when there is nothing to keep to."""
        if (cfg is None or not cfg.active) and plan is None:
            return None
        raise ConfigError(f"the {self.name} representation has no sampling constraints.")

    def can_infill(self, model: ModelConfig) -> bool:
        """Whether a run of this representation and ``model`` can regenerate a span (fill in the middle)."""
        return False

    def check_infill(self, model: ModelConfig) -> None:
        """ConfigError unless the run can infill, saying what to do."""
        raise ConfigError(
            f"{self.label.split(' — ')[0]} runs cannot fill in a passage; infilling needs a token run (timed or "
            "classic tokens) trained with infilling on."
        )

    def infill_plan(self, piece: Piece, start: float, end: float, window: int) -> InfillPlan:
        """The prompt that regenerates beats [start, end) of ``piece``, and what the middle must fit."""
        raise ConfigError(f"the {self.name} representation cannot fill in a passage.")

    def decode_middle(self, ids: np.ndarray, plan: InfillPlan, name: str = "middle") -> Piece:
        """Notes of a generated middle, timed from the span's start."""
        raise ConfigError(f"the {self.name} representation cannot fill in a passage.")

    def infill_sample(self, logits: np.ndarray, cfg: SamplingConfig, rng: np.random.Generator) -> np.ndarray:
        """The sampling step of a middle (the end of a middle may be drawn)."""
        return self.sample(logits, cfg, rng)

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
