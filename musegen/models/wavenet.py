"""The full WaveNet on tokens: embedding -> causal input conv -> gated residual dilated stack -> logits.

The tutorial describes this block (gated tanh x sigmoid units, 1x1 convolutions, residual and skip
paths) but builds only plain dilated convolutions; here it is complete, following van den Oord et
al. 2016, "WaveNet: A Generative Model for Raw Audio". Dilations run 1, 2, 4, ...,
2**(dilation_cycle - 1) and repeat ``stacks`` times; with the defaults (kernel 2, 7 dilations,
1 stack) the receptive field is 129 tokens, covering the 128-token window.
"""

from __future__ import annotations

import keras

from musegen.config import ModelConfig
from musegen.models.layers import WaveNetStack
from musegen.models.sequence import build_sequence_model, logits_head, token_adapter, token_input


def dilations(cfg: ModelConfig) -> list[int]:
    """1, 2, 4, ... cycling ``cfg.stacks`` times."""
    return [2**i for i in range(cfg.dilation_cycle)] * cfg.stacks


def wavenet_stack(cfg: ModelConfig, name: str = "wavenet") -> WaveNetStack:
    """The dilated backbone alone, for reuse with other adapters and heads."""
    return WaveNetStack(cfg.channels, cfg.skip_channels, cfg.kernel_size, dilations(cfg), cfg.dropout, name=name)


def build_wavenet(cfg: ModelConfig, vocab_size: int) -> keras.Model:
    """int32 ids (B, T) -> logits (B, T, V), causal."""
    return build_sequence_model(
        token_input(), token_adapter(vocab_size, cfg.embed_dim), wavenet_stack(cfg), logits_head(vocab_size), "wavenet"
    )
