"""The token representations' steering: the softmax step (duration tokens at their own temperature), the
motif memory's skipped tokens, fill in the middle (one event per token), and whole-event constraints."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import numpy as np

from musegen.config import ConstraintConfig, ModelConfig, SamplingConfig
from musegen.errors import ConfigError
from musegen.notes import Piece
from musegen.representations.base import Tokenizer
from musegen.representations.codec import check_ids
from musegen.representations.tokens.constraint import EventConstraint
from musegen.steering.constraints import Constraint
from musegen.steering.infill import InfillPlan, check_span, context_budget
from musegen.steering.sampling import sample_next
from musegen.streams.fim import FimParts, psm
from musegen.vocabulary import BOS_ID, PAD_ID, UNK_ID, Vocabulary


class TokenSteering:
    """The steering part of a token representation (a mixin over :class:`.steering.Steering` of the interface)."""

    if TYPE_CHECKING:  # from the codec part (representation.TokenRepresentation)

        @property
        def vocab(self) -> Vocabulary: ...

        fim: bool
        tokenizer: Tokenizer

        def encode(self, piece: Piece) -> np.ndarray: ...

        def decode(self, ids: np.ndarray, name: str = "generated") -> Piece: ...

        def time_cursor(self, ids: np.ndarray) -> float: ...

    # ------------------------------------------------------------------ generation

    forbidden: ClassVar[tuple[int, ...]] = (PAD_ID, BOS_ID)  # never generated (nor the FIM sentinels)

    def start(self) -> np.ndarray:
        return np.array([BOS_ID], dtype=np.int32)

    def _never(self) -> tuple[int, ...]:
        return self.forbidden + (self.vocab.fim_ids() or ())

    # the names (prefixes) of the tokens of a note's length: drawn at SamplingConfig.duration_temperature
    duration_prefixes: ClassVar[tuple[str, ...]] = ()

    def duration_ids(self) -> np.ndarray:
        """Ids of the vocabulary's duration tokens (:attr:`duration_prefixes`), found once per vocabulary
        (a Vocabulary is never changed in place; fitting makes a new one)."""
        vocab = self.vocab
        cached = getattr(self, "_duration_cache", None)
        if cached is None or cached[0] is not vocab:  # the cache holds the vocabulary, so its id is not reused
            prefixes = self.duration_prefixes
            ids = [i for i, t in enumerate(vocab.tokens) if t.startswith(prefixes)] if prefixes else []
            cached = (vocab, np.array(ids, dtype=np.int64))
            self._duration_cache = cached
        return cached[1]

    def has_duration_tokens(self) -> bool:
        return len(self.duration_ids()) > 0

    # tokens that vary between repeats of one figure (a motif played louder is the same motif)
    motif_skip_prefixes: ClassVar[tuple[str, ...]] = ("Velocity_",)

    def motif_skip_ids(self) -> np.ndarray:
        """The special tokens, the fill-in-the-middle sentinels and :attr:`motif_skip_prefixes`' tokens."""
        vocab = self.vocab
        skip = [i for i, t in enumerate(vocab.tokens) if t.startswith(self.motif_skip_prefixes)]
        return np.array(sorted({PAD_ID, UNK_ID, BOS_ID, *(vocab.fim_ids() or ()), *skip}), dtype=np.int64)

    def sample(self, logits: np.ndarray, cfg: SamplingConfig, rng: np.random.Generator) -> np.ndarray:
        return sample_next(logits, cfg, rng, self._never(), self.duration_ids()).astype(np.int32)

    def infill_sample(self, logits: np.ndarray, cfg: SamplingConfig, rng: np.random.Generator) -> np.ndarray:
        """The sampling step of a middle: as :meth:`sample`, but ``<fim_end>`` may come (the constraint says when)."""
        never = self._never()[:-1] if self.vocab.fim_ids() else self._never()
        return sample_next(logits, cfg, rng, never, self.duration_ids()).astype(np.int32)

    # ------------------------------------------------------------------ infilling

    def can_infill(self, model: ModelConfig) -> bool:
        """Whether a run of this vocabulary and ``model`` was trained to fill in the middle."""
        has = self.fim if self._vocab is None else self._vocab.fim_ids() is not None
        return has and not model.is_classic

    def check_infill(self, model: ModelConfig) -> None:
        """ConfigError unless the run can infill, saying what to do."""
        if model.is_classic:
            raise ConfigError(
                f"the tutorial's {model.arch} predicts one token from a fixed window and cannot fill in a passage; "
                "train a WaveNet, LSTM or Transformer with infilling on."
            )
        if not self.can_infill(model):
            raise ConfigError(
                "this run was trained without fill-in-the-middle examples, so it can only continue a seed. Train it "
                "again with infilling on (the Train page's option, or --fim-rate 0.5), or pick a demo model."
            )

    def _sentinels(self) -> tuple[int, int, int, int]:
        ids = self.vocab.fim_ids()
        if ids is None:
            raise ConfigError("this vocabulary has no fill-in-the-middle tokens; train with infilling on.")
        return ids

    def fim_split(self, chunk: np.ndarray, rng: np.random.Generator) -> FimParts | None:
        """(prefix, suffix, middle) ids of a training chunk (no ``<bos>``) cut at two random places; None
        when it is too short. Here every token is one event (the classic tokens), so any place will do."""
        if len(chunk) < 2:
            return None
        i, j = np.sort(rng.integers(0, len(chunk) + 1, size=2))
        return chunk[:i], chunk[j:], chunk[i:j]

    def infill_plan(self, piece: Piece, start: float, end: float, window: int) -> InfillPlan:
        """The prompt that regenerates beats [start, end) of ``piece`` and what its middle must fit.

        Here (one event per token, every event ``time_cursor`` of one token long) the span is a number
        of events; the prompt keeps what the window leaves beside the middle, before and after the span.
        """
        start, end = check_span(piece, start, end)
        ids = self.encode(piece)[1:]
        step = self.time_cursor(np.zeros(1, np.int32))
        i = min(round(start / step), len(ids))
        j = max(i + 1, round(end / step))
        keep_pre, keep_suf = context_budget(window, j - i + 1)
        prefix, suffix = ids[max(0, i - keep_pre) : i], ids[j : j + keep_suf]
        head = [BOS_ID] if i <= keep_pre else []
        prompt = psm(prefix, suffix, None, self._sentinels(), window, head=head)
        n = j - i
        truth = ids[i:j]
        return InfillPlan(
            piece, i * step, j * step, prompt, n, n, prefix_tokens=len(prefix), suffix_tokens=len(suffix), truth=truth
        )

    def decode_middle(self, ids: np.ndarray, plan: InfillPlan, name: str = "middle") -> Piece:
        """Notes of a generated middle (timed from the span's start), up to ``<fim_end>``."""
        ids = np.asarray(ids)
        end = self._sentinels()[3]
        stop = np.flatnonzero(ids == end)
        return self.decode(ids[: stop[0]] if len(stop) else ids, name)

    # ------------------------------------------------------------------ constraints

    def constraint(self, cfg: ConstraintConfig | None, batch: int, plan: InfillPlan | None = None) -> Constraint | None:
        """Whole events masked by key, range and notes at once; an infilled middle gets exactly its events."""
        if (cfg is None or not cfg.active) and plan is None:
            return None
        return EventConstraint(self, cfg or ConstraintConfig(), batch, plan)

    def event_pitches(self, token: str) -> list[int] | None:
        """The MIDI pitches one token plays (None: it plays none, e.g. a special token)."""
        piece = self.tokenizer.detokenize([token])
        return [int(p) for p in piece.notes[:, 2]] if piece.n_notes else None

    def check_seed(self, seed: np.ndarray) -> np.ndarray:
        return check_ids(seed, len(self.vocab))
