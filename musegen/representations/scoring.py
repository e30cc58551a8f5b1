"""The scoring part of the Representation interface: held-out scores, and the floor a model must beat.

``score`` is a model's held-out NLL per ``unit`` (with perplexity and accuracy), ``floor`` the
baseline fitted on the training sequences and scored on the same targets (an n-gram for tokens, a
per-key Markov chain for frames), ``uniform_nll`` a uniform guess. ``metric_help`` and
``perplexity_per`` say what the numbers mean. The math itself lives in :mod:`musegen.scoring`.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np


class Scoring(ABC):
    """How a representation's models are scored, and against what."""

    metric_help: ClassVar[tuple[str, str, str]] = (
        "mean negative log-likelihood per token, nats",
        "exp(NLL): as unsure as a uniform choice among this many tokens",
        "top-1 next-token accuracy",
    )
    perplexity_per: ClassVar[int] = 1  # perplexity is exp(NLL / this): 88 for frames (per key)

    if TYPE_CHECKING:  # from the model part

        def output_width(self) -> int: ...

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
