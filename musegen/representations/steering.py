"""The steering part of the Representation interface: what the decoding loop asks at every step.

``start`` is the seed of an empty prompt and ``check_seed`` checks a given one; ``sample`` is one
sampling step (a softmax draw for tokens, 88 Bernoulli draws for a frame), ``motif_skip_ids`` what
the motif memory leaves out. ``constraint`` builds the sampling-time rules
(:mod:`musegen.steering.constraints`); ``can_infill``, ``infill_plan``, ``infill_sample`` and
``decode_middle`` regenerate a span (fill in the middle, :mod:`musegen.steering.infill`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np

from musegen.config import ConstraintConfig, ModelConfig, SamplingConfig
from musegen.errors import ConfigError
from musegen.notes import Piece
from musegen.steering.constraints import Constraint
from musegen.steering.infill import InfillPlan


class Steering(ABC):
    """Sampling, its rules, and filling in a passage."""

    name: ClassVar[str]
    label: ClassVar[str]
    min_seed: ClassVar[int] = 2  # ids a seed needs (``<bos>`` and one token; one frame)

    # ------------------------------------------------------------------ sampling

    @abstractmethod
    def start(self) -> np.ndarray:
        """The seed of an empty prompt (``[<bos>]``, or one silent frame)."""

    def check_seed(self, seed: np.ndarray) -> np.ndarray:
        """``seed`` as the model reads it, or a ConfigError that says what is wrong with it."""
        return np.asarray(seed)

    @abstractmethod
    def sample(self, logits: np.ndarray, cfg: SamplingConfig, rng: np.random.Generator) -> np.ndarray:
        """One sampling step: the next element of every row of ``logits`` (B, width)."""

    def has_duration_tokens(self) -> bool:
        """Whether notes' lengths are tokens of their own, drawn at ``SamplingConfig.duration_temperature``."""
        return False

    def motif_skip_ids(self) -> np.ndarray | None:
        """The elements the motif memory (:mod:`musegen.steering.motif`) leaves out of the figures it
        remembers; None when this representation has no motif memory (frames are not tokens)."""
        return None

    # ------------------------------------------------------------------ constraints

    def constraint(self, cfg: ConstraintConfig | None, batch: int, plan: InfillPlan | None = None) -> Constraint | None:
        """The sampling-time rules of ``cfg`` (and of an infilled middle's ``plan``) for ``batch`` sequences
        (:mod:`musegen.steering.constraints`); None when there is nothing to keep to."""
        if (cfg is None or not cfg.active) and plan is None:
            return None
        raise ConfigError(f"the {self.name} representation has no sampling constraints.")

    # ------------------------------------------------------------------ infilling

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
