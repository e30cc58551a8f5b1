"""What the token representations (timed, classic) share: ids with ``<bos>``, embeddings, softmax.

A piece becomes a list of token strings (the subclass's tokenizer), then int32 ids that start
with ``<bos>`` so that a model learns (and is scored on) every real token of a piece. Models
read ids through an Embedding and predict the next token with a softmax; the tutorial's
classic models read ``id / n_vocab`` windows instead and predict one token per window
(:meth:`ModelConfig.is_classic`). Held-out scores are per token beside an n-gram baseline.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from musegen.config import ConstraintConfig, ModelConfig, RunConfig, SamplingConfig
from musegen.errors import ConfigError
from musegen.notes import Piece
from musegen.representations.base import Representation, Tokenizer, TrainingData
from musegen.representations.codec import check_ids
from musegen.scoring.likelihood import score_classic, score_sequence
from musegen.scoring.ngram import score_baseline
from musegen.steering.constraints import Constraint, pitch_mask
from musegen.steering.infill import InfillPlan, check_span, context_budget
from musegen.steering.sampling import sample_next
from musegen.streams.fim import FimParts, fim_windows, psm
from musegen.streams.store import TRAIN, VAL
from musegen.streams.store_windows import Fim, WindowReader, store_dataset, window_table
from musegen.streams.windows import classic_windows, next_token_windows
from musegen.vocabulary import BOS_ID, PAD_ID, UNK_ID, Vocabulary

if TYPE_CHECKING:
    import keras


check_token_ids = check_ids  # the name this check had before it joined the codec part


class TokenRepresentation(Representation):
    """A representation whose model reads and predicts token ids."""

    unit: ClassVar[str] = "token"

    def __init__(self, tokenizer: Tokenizer, vocab: Vocabulary | None = None, *, fim: bool = False):
        super().__init__(vocab)
        self.tokenizer = tokenizer
        self.fim = fim  # fit_vocab appends the fill-in-the-middle sentinels (DataConfig.fim_rate > 0)

    def sequence(self, piece: Piece) -> list[str]:
        return self.tokenizer.tokenize(piece)

    def fit_vocab(self, train: Sequence[list[str]]) -> Vocabulary:
        if self._vocab is None:
            vocab = self.tokenizer.build_vocab(train)
            self._vocab = vocab.with_fim() if self.fim else vocab
        return self._vocab

    def ids(self, seq: Sequence[str]) -> np.ndarray:
        return np.concatenate([[BOS_ID], self.vocab.encode(seq)]).astype(np.int32)

    def decode(self, ids: np.ndarray, name: str = "generated") -> Piece:
        return self.tokenizer.detokenize(self.vocab.decode(ids), name=name)

    # ------------------------------------------------------------------ model and training data

    def build_model(self, config: RunConfig) -> keras.Model:
        import keras

        from musegen.models import build_model, precision

        with precision.policy(config.train.precision):
            model = build_model(config.model, len(self.vocab), config.data.window)
        loss = keras.losses.SparseCategoricalCrossentropy(
            from_logits=not config.model.is_classic, reduction="mean_with_sample_weight"
        )
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate=config.train.learning_rate, clipnorm=1.0),
            loss=loss,
            weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
            jit_compile=config.train.keras_jit_compile(),
        )
        return model

    def train_windows(
        self, seqs: Sequence[np.ndarray], config: RunConfig, seed: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The plain windows, or with ``config.data.fim_rate`` > 0 a share of them as fill-in-the-middle examples."""
        data = config.data
        if data.fim_rate <= 0 or not self.can_infill(config.model):
            return self.windows(seqs, data.window, data.stride, config.model)
        return fim_windows(seqs, data.window, data.stride, data.fim_rate, seed, self.fim_split, self._sentinels())

    def store_training_data(self, store: Any, config: RunConfig, global_batch: int, seed: int) -> TrainingData:
        """The pipelines of :meth:`training_data` from a token store: the windows of
        :func:`~musegen.streams.windows.sequence_windows` over its training pieces (validation: without
        overlap), gathered per batch from the memory-mapped ids; fill-in-the-middle examples drawn per
        batch at ``fim_rate`` (:mod:`musegen.streams.store_windows`)."""
        data = config.data
        if config.model.is_classic:
            raise ConfigError(
                f"the tutorial's {config.model.arch} trains on one target per window from --data; choose wavenet, "
                "lstm or transformer to train from a token store."
            )
        if store.vocab.tokens != self.vocab.tokens[: len(store.vocab)]:
            raise ConfigError(f"the store {store.path} was written with another vocabulary than this run's.")
        train_rows = window_table(store.offsets, store.indices(TRAIN), data.window, data.stride)
        if not len(train_rows[0]):
            return TrainingData(None, None, 0, 0)
        fim = None
        if data.fim_rate > 0 and self.can_infill(config.model):
            fim = Fim(data.fim_rate, self.fim_split, self._sentinels())
        global_batch = min(global_batch, len(train_rows[0]))
        reader = WindowReader(store.tokens, *train_rows, data.window, fim)
        train_ds, n_batches = store_dataset(reader, global_batch, seed, shuffle=True)
        val_rows = window_table(store.offsets, store.indices(VAL), data.window, data.window)
        val_ds = None
        if len(val_rows[0]):
            val_reader = WindowReader(store.tokens, *val_rows, data.window)
            val_batch = self.val_batch(len(val_reader), data.window, global_batch)
            val_ds = store_dataset(val_reader, val_batch, seed, shuffle=False)[0]
        return TrainingData(train_ds, val_ds, len(reader), int(global_batch), n_batches)

    def windows(
        self, seqs: Sequence[np.ndarray], window: int, stride: int, model: ModelConfig
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if model.is_classic:  # the tutorial's one target per window; every example counts
            x, y = classic_windows(seqs, window, len(self.vocab))
            return x, y, np.ones(len(y), np.float32)
        x, y = next_token_windows(seqs, window, stride, PAD_ID)
        return x, y, (y != PAD_ID).astype(np.float32)

    # ------------------------------------------------------------------ scoring

    def score(self, model: Any, val: list[np.ndarray], window: int, arch: str) -> dict[str, Any]:
        if ModelConfig(arch=arch).is_classic:
            return score_classic(model, val, window, len(self.vocab))
        return score_sequence(model, val, window)

    def floor(self, train: list[np.ndarray], val: list[np.ndarray]) -> dict[str, Any]:
        return score_baseline(train, val, len(self.vocab))

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

    def known(self, piece: Piece) -> tuple[int, int]:
        ids = self.vocab.encode(self.tokenizer.tokenize(piece))
        return int(np.sum(ids != UNK_ID)), len(ids)


class EventConstraint(Constraint):
    """Rules over tokens that are each a whole event (the classic notes and chords).

    An event is allowed when all its pitches are allowed (key and range) and it has at most
    ``max_polyphony`` notes; specials and rests are always allowed. An infilled middle is exactly its
    span's events long, then ``<fim_end>``.
    """

    def __init__(self, rep: TokenRepresentation, cfg: ConstraintConfig, batch: int, plan: InfillPlan | None):
        super().__init__(batch)
        allowed_pitch = pitch_mask(cfg)
        width = len(rep.vocab)
        self.static = np.ones(width, dtype=bool)
        for i, token in enumerate(rep.vocab.tokens):
            pitches = rep.event_pitches(token)
            if pitches is None:
                continue
            ok = all(allowed_pitch[p] for p in pitches)
            if cfg.max_polyphony and len(pitches) > cfg.max_polyphony:
                ok = False
            self.static[i] = ok
        self.plan = plan
        self.count = np.zeros(self.batch, dtype=np.int64)
        sentinels = rep.vocab.fim_ids()
        self.end = sentinels[3] if sentinels else -1
        if sentinels:
            self.static[list(sentinels)] = False

    def allowed(self) -> np.ndarray:
        mask = np.tile(self.static, (self.batch, 1))
        if self.plan is not None:
            full = self.done | (self.count >= self.plan.span)
            mask[full] = False
            mask[full, self.end] = True
        return mask

    def observe(self, drawn: np.ndarray) -> None:
        drawn = np.asarray(drawn).reshape(-1)
        if self.plan is not None:
            self.done |= drawn == self.end
        self.count += ~self.done
