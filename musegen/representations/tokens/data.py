"""The token representations' training data: next-token (or the tutorial's one-target) windows, with
fill-in-the-middle examples when asked, in memory or streamed from a token store."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from musegen.config import ModelConfig, RunConfig
from musegen.errors import ConfigError
from musegen.representations.base import Tokenizer, TrainingData
from musegen.streams.fim import FimParts, fim_windows
from musegen.streams.store import TRAIN, VAL
from musegen.streams.store_windows import Fim, WindowReader, store_dataset, window_table
from musegen.streams.windows import classic_windows, next_token_windows
from musegen.vocabulary import PAD_ID, Vocabulary


class TokenData:
    """The data part of a token representation (a mixin over :class:`~musegen.representations.data.Data`)."""

    if TYPE_CHECKING:  # from the codec part (representation.TokenRepresentation)

        @property
        def vocab(self) -> Vocabulary: ...

        fim: bool
        tokenizer: Tokenizer

        def can_infill(self, model: ModelConfig) -> bool: ...

        def fim_split(self, chunk: np.ndarray, rng: np.random.Generator) -> FimParts | None: ...

        def _sentinels(self) -> tuple[int, int, int, int]: ...

        def val_batch(self, n_windows: int, window: int, global_batch: int) -> int: ...

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
