"""The token representation: ids with ``<bos>``, an Embedding and a softmax, per-token scores beside an
n-gram floor; its data and steering parts are :mod:`.data` and :mod:`.steering`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from musegen.config import ModelConfig, RunConfig
from musegen.notes import Piece
from musegen.representations.base import Representation, Tokenizer
from musegen.representations.tokens.data import TokenData
from musegen.representations.tokens.steering import TokenSteering
from musegen.scoring.likelihood import score_classic, score_sequence
from musegen.scoring.ngram import score_baseline
from musegen.vocabulary import BOS_ID, UNK_ID, Vocabulary

if TYPE_CHECKING:
    import keras


class TokenRepresentation(TokenData, TokenSteering, Representation):
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

    # ------------------------------------------------------------------ what a piece is

    def known(self, piece: Piece) -> tuple[int, int]:
        ids = self.vocab.encode(self.tokenizer.tokenize(piece))
        return int(np.sum(ids != UNK_ID)), len(ids)

    # ------------------------------------------------------------------ model

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

    # ------------------------------------------------------------------ scoring

    def score(self, model: Any, val: list[np.ndarray], window: int, arch: str) -> dict[str, Any]:
        if ModelConfig(arch=arch).is_classic:
            return score_classic(model, val, window, len(self.vocab))
        return score_sequence(model, val, window)

    def floor(self, train: list[np.ndarray], val: list[np.ndarray]) -> dict[str, Any]:
        return score_baseline(train, val, len(self.vocab))
