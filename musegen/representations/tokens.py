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

from musegen.config import ModelConfig, RunConfig, SamplingConfig
from musegen.datasets.windows import classic_windows, next_token_windows
from musegen.errors import ConfigError
from musegen.evaluation.likelihood import score_classic, score_sequence
from musegen.evaluation.ngram import score_baseline
from musegen.generation.sampling import sample_next
from musegen.notes import Piece
from musegen.representations.base import Representation, Tokenizer
from musegen.representations.vocabulary import BOS_ID, PAD_ID, UNK_ID, Vocabulary

if TYPE_CHECKING:
    import keras


def check_token_ids(seed: np.ndarray, width: int) -> np.ndarray:
    """``seed`` as int64 ids (T,), or a ConfigError when one is outside a model's ``width`` tokens."""
    seed = np.asarray(seed, dtype=np.int64).reshape(-1)
    if seed.size and (seed.min() < 0 or seed.max() >= width):
        raise ConfigError(f"seed token ids must be in 0..{width - 1} for this model; got {seed.min()}..{seed.max()}.")
    return seed


class TokenRepresentation(Representation):
    """A representation whose model reads and predicts token ids."""

    unit: ClassVar[str] = "token"

    def __init__(self, tokenizer: Tokenizer, vocab: Vocabulary | None = None):
        super().__init__(vocab)
        self.tokenizer = tokenizer

    def sequence(self, piece: Piece) -> list[str]:
        return self.tokenizer.tokenize(piece)

    def fit_vocab(self, train: Sequence[list[str]]) -> Vocabulary:
        if self._vocab is None:
            self._vocab = self.tokenizer.build_vocab(train)
        return self._vocab

    def ids(self, seq: Sequence[str]) -> np.ndarray:
        return np.concatenate([[BOS_ID], self.vocab.encode(seq)]).astype(np.int32)

    def decode(self, ids: np.ndarray, name: str = "generated") -> Piece:
        return self.tokenizer.detokenize(self.vocab.decode(ids), name=name)

    # ------------------------------------------------------------------ model and training data

    def build_model(self, config: RunConfig) -> keras.Model:
        import keras

        from musegen.models import build_model

        model = build_model(config.model, len(self.vocab), config.data.window)
        loss = keras.losses.SparseCategoricalCrossentropy(
            from_logits=not config.model.is_classic, reduction="mean_with_sample_weight"
        )
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate=config.train.learning_rate, clipnorm=1.0),
            loss=loss,
            weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        )
        return model

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

    forbidden: ClassVar[tuple[int, ...]] = (PAD_ID, BOS_ID)  # never generated

    def start(self) -> np.ndarray:
        return np.array([BOS_ID], dtype=np.int32)

    def sample(self, logits: np.ndarray, cfg: SamplingConfig, rng: np.random.Generator) -> np.ndarray:
        return sample_next(logits, cfg, rng, self.forbidden).astype(np.int32)

    def check_seed(self, seed: np.ndarray) -> np.ndarray:
        return check_token_ids(seed, len(self.vocab))

    def known(self, piece: Piece) -> tuple[int, int]:
        ids = self.vocab.encode(self.tokenizer.tokenize(piece))
        return int(np.sum(ids != UNK_ID)), len(ids)
