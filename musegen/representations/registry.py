"""The representations by name: the one list of them, and the rules that pair them with models.

Adding a representation is one new module with a :class:`~musegen.representations.base.Representation`
subclass, and one line in :data:`REGISTRY` (docs/architecture.md walks through it).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from musegen.config import DataConfig, RunConfig
from musegen.errors import ConfigError
from musegen.representations.base import Representation
from musegen.representations.classic import ClassicRepresentation
from musegen.representations.performance import PerformanceRepresentation
from musegen.representations.pianoroll import PianoRollRepresentation
from musegen.representations.timed import TimedRepresentation
from musegen.representations.tokens import TokenRepresentation
from musegen.vocabulary import Vocabulary

REGISTRY: dict[str, type[Representation]] = {
    cls.name: cls
    for cls in (TimedRepresentation, ClassicRepresentation, PianoRollRepresentation, PerformanceRepresentation)
}
NAMES = tuple(REGISTRY)  # the built-in ones, in the order the app offers them
DEFAULT = NAMES[0]


def register(cls: type[Representation]) -> type[Representation]:
    """Add a representation (usable as a class decorator); its ``name`` must be new."""
    if cls.name in REGISTRY and REGISTRY[cls.name] is not cls:
        raise ConfigError(f"a representation named {cls.name!r} is already registered.")
    REGISTRY[cls.name] = cls
    return cls


def names() -> tuple[str, ...]:
    """Every registered representation's name: the built-ins first."""
    return tuple(REGISTRY)


def get(name: str) -> type[Representation]:
    """The representation class registered as ``name``, or a ConfigError naming the choices."""
    try:
        return REGISTRY[name]
    except (KeyError, TypeError):
        raise ConfigError(f"representation must be one of {', '.join(repr(n) for n in NAMES)}; got {name!r}.") from None


def for_played_music() -> str | None:
    """The name of the first representation that keeps played timing (onsets off any grid), if one is registered."""
    return next((name for name, cls in REGISTRY.items() if cls.keeps_played_timing), None)


def for_model(model: Any) -> Representation | None:
    """The representation a bare model (a Keras model without its run folder) reads, told by its shapes
    alone: the first registered one whose ``for_model`` knows it; None when none does (token ids need
    their vocabulary to mean anything)."""
    for cls in REGISTRY.values():
        rep = cls.for_model(model)
        if rep is not None:
            return rep
    return None


def for_config(cfg: DataConfig) -> Representation:
    """The representation of ``cfg`` with its settings (the vocabulary fitted later when it depends on data)."""
    return get(cfg.representation).from_config(cfg)


# The settings a vocabulary's meta may carry, and their ranges (DataConfig.validate's: steps_per_beat <= 48,
# max_shift_beats <= 64, velocity_bins 2-127; performance events: steps of 1 ms to 1 s, shifts of up to 1,000
# steps); a damaged value would divide by zero or allocate without bound later.
META_RANGES = {
    "steps_per_beat": (1, 48),
    "max_steps": (1, 48 * 64),
    "min_token_count": (1, 10_000),
    "lowest_pitch": (0, 127),
    "keys": (1, 128),
    "velocity_bins": (0, 127),
    "shift_ms": (1, 1000),
    "max_shift": (1, 1000),
}


def for_vocab(vocab: Vocabulary) -> Representation:
    """The representation a saved vocabulary (a run's vocab.json) was built with.

    Its settings are checked against :data:`META_RANGES`, and a token representation decodes every
    one of its tokens once, so that a damaged vocab.json is refused here with a ConfigError, not
    halfway through generating.
    """
    cls = get(vocab.representation)
    for key, (low, high) in META_RANGES.items():
        value = vocab.meta.get(key)
        if key in vocab.meta and (not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high):
            raise ConfigError(
                f"vocab.json's {key} is {repr(value)[:40]}; it must be a whole number from {low} to {high}. "
                "Train the run again or put back its vocab.json."
            )
    try:
        rep = cls.from_vocab(vocab)
        if isinstance(rep, TokenRepresentation):
            every = np.arange(len(vocab), dtype=np.int32)
            rep.decode(every, "vocabulary")
            rep.time_cursor(every)
    except (TypeError, ValueError, AttributeError, KeyError, IndexError, OverflowError, ZeroDivisionError) as exc:
        raise ConfigError(
            f"vocab.json's {cls.name} settings or tokens are damaged ({str(exc)[:200]}); train the run again or put "
            "back its vocab.json."
        ) from exc
    return rep


def check(config: RunConfig) -> Representation:
    """Validate ``config`` and that its model can read its representation; returns the representation."""
    config.validate()
    rep = for_config(config.data)
    rep.check_arch(config.model.arch)
    rep.check_head(config.model.head)
    if config.data.fim_rate > 0:
        rep.check_infill(config.model)
    return rep


def for_arch(arch: str, representation: str) -> str:
    """The representation to train ``arch`` on: ``representation`` when the model reads it, else the
    first one it reads (the tutorial's classic models read only the classic tokens)."""
    if arch in get(representation).archs:
        return representation
    return next(name for name, cls in REGISTRY.items() if arch in cls.archs)
