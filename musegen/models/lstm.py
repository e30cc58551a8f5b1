"""Stacked LSTMs on tokens: embedding -> ``layers`` x LSTM(``units``) with dropout -> logits."""

from __future__ import annotations

import keras

from musegen.config import ModelConfig
from musegen.models.layers import RecurrentStack
from musegen.models.sequence import build_sequence_model, logits_head, token_adapter, token_input


def recurrent_stack(cfg: ModelConfig, name: str = "lstm") -> RecurrentStack:
    """The recurrent backbone alone, for reuse with other adapters and heads."""
    return RecurrentStack(cfg.units, cfg.layers, cfg.dropout, name=name)


def build_lstm(cfg: ModelConfig, vocab_size: int) -> keras.Model:
    """int32 ids (B, T) -> logits (B, T, V), causal (the LSTM only looks back)."""
    return build_sequence_model(
        token_input(), token_adapter(vocab_size, cfg.embed_dim), recurrent_stack(cfg), logits_head(vocab_size), "lstm"
    )
