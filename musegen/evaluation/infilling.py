"""Does an infilling model use what follows? The true middle's NLL with and without the suffix.

For spans of held-out pieces, the real middle (the span's own tokens, then ``<fim_end>``) is
scored teacher-forced after the fill-in-the-middle prompt, once with the real suffix and once with
nothing after the span. A model that learned to infill finds the real middle likelier when it
knows where the music goes next (and, for the timed tokens, how much time the span lasts): the
NLL per token with the suffix is lower. Nothing here imports TensorFlow.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from musegen.errors import ConfigError
from musegen.notes import Piece
from musegen.representations.base import Representation
from musegen.scoring.floors import model_forward


@dataclass
class SuffixBenefit:
    """Mean NLL per token of true middles, with the suffix and without it."""

    with_suffix: float
    without_suffix: float
    spans: int  # spans scored
    tokens: int  # middle tokens scored (with each <fim_end>)
    span_beats: float

    @property
    def gain(self) -> float:
        """Nats per token the suffix is worth (positive: the model uses it)."""
        return self.without_suffix - self.with_suffix

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "gain": self.gain}


def _middle_nll(forward: Any, prompt: np.ndarray, middle: np.ndarray, end: int) -> tuple[float, int]:
    seq = np.concatenate([prompt, middle, [end]]).astype(np.int32)
    logits = np.asarray(forward(seq[None, :-1]), dtype=np.float64)[0]
    top = logits.max(axis=-1, keepdims=True)
    logp = logits - (top + np.log(np.exp(logits - top).sum(axis=-1, keepdims=True)))
    targets = seq[1:]
    first = len(prompt) - 1  # the position that predicts the middle's first token
    picked = logp[np.arange(first, len(targets)), targets[first:]]
    return -float(picked.sum()), len(picked)


def suffix_benefit(
    model: Any,
    rep: Representation,
    pieces: Sequence[Piece],
    window: int,
    *,
    span_beats: float = 4.0,
    per_piece: int = 2,
    seed: int = 0,
) -> SuffixBenefit:
    """Score ``per_piece`` random spans of ``span_beats`` in each of ``pieces`` with and without their suffix."""
    sentinels = rep.vocab.fim_ids()
    if sentinels is None:
        raise ConfigError("this run has no fill-in-the-middle tokens; it was trained without infilling.")
    forward = model_forward(model)
    rng = np.random.default_rng(seed)
    totals = {"with": 0.0, "without": 0.0}
    tokens = spans = 0
    for piece in pieces:
        length = piece.length_beats
        if length < 3 * span_beats:  # room for a prefix and a suffix
            continue
        for _ in range(per_piece):
            start = float(np.round(rng.uniform(span_beats, length - 2 * span_beats)))
            plan = rep.infill_plan(piece, start, start + span_beats, window)
            if not len(plan.truth):
                continue
            nll, n = _middle_nll(forward, plan.prompt, plan.truth, sentinels[3])
            alone, _ = _middle_nll(forward, plan.without_suffix(sentinels), plan.truth, sentinels[3])
            totals["with"] += nll
            totals["without"] += alone
            tokens += n
            spans += 1
    if not tokens:
        raise ConfigError(f"no piece is long enough for a {span_beats:g}-beat span with music before and after it.")
    return SuffixBenefit(totals["with"] / tokens, totals["without"] / tokens, spans, tokens, span_beats)
