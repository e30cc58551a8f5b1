"""What a dataset's playing holds beyond pitches and rhythm, and the data settings that fit it.

:func:`expression_of` looks at decoded pieces: do velocities vary (dynamics worth learning), do the
onsets sit on the sixteenth grid under each piece's own tempo map (written music) or not (music
played on a keyboard without a tempo map, which the timed tokens would force onto the grid).
:func:`suggested` turns that into data settings, and :func:`what_it_learns` says in words what a
run with given settings learns, for the Train page and the CLI.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from musegen.config import DataConfig
from musegen.notes import UNQUANTIZED_BELOW, VELOCITY, Piece, grid_fit, timing_advice
from musegen.representations.registry import get

DYNAMICS_SPREAD = 4.0  # a velocity standard deviation (of 127) above which the data has dynamics to learn
DYNAMICS_LEVELS = 4  # ... and at least this many distinct velocities


@dataclass(frozen=True)
class Expression:
    """Dynamics and timing of a set of pieces."""

    pieces: int
    notes: int
    velocity_mean: float
    velocity_spread: float  # standard deviation over all notes
    distinct_velocities: int
    grid_fit: float  # the median over pieces of the share of onsets on the sixteenth grid
    unquantized_pieces: int  # pieces whose grid fit is below UNQUANTIZED_BELOW

    @property
    def has_dynamics(self) -> bool:
        return self.velocity_spread >= DYNAMICS_SPREAD and self.distinct_velocities >= DYNAMICS_LEVELS

    @property
    def looks_unquantized(self) -> bool:
        return self.pieces > 0 and self.grid_fit < UNQUANTIZED_BELOW

    def timing_message(self) -> str:
        """One line for people when the data looks played rather than written, else ""."""
        return timing_advice(self.grid_fit) if self.looks_unquantized else ""

    def dynamics_message(self) -> str:
        """One line on the velocities, for people."""
        if not self.notes:
            return ""
        if self.has_dynamics:
            return (
                f"The notes have dynamics: {self.distinct_velocities} distinct velocities, mean "
                f"{self.velocity_mean:.0f}, spread {self.velocity_spread:.1f}. Learning them lets the model play "
                "louder and softer."
            )
        return f"The notes are all about one loudness (velocity {self.velocity_mean:.0f}): no dynamics to learn."


def expression_of(pieces: Sequence[Piece]) -> Expression:
    """The dynamics and timing of ``pieces`` (one pass over their notes)."""
    velocities = [p.notes[:, VELOCITY] for p in pieces if len(p.notes)]
    fits = [grid_fit(p.notes) for p in pieces if len(p.notes)]
    v = np.concatenate(velocities) if velocities else np.zeros(0)
    return Expression(
        pieces=len(fits),
        notes=int(v.size),
        velocity_mean=float(v.mean()) if v.size else 0.0,
        velocity_spread=float(v.std()) if v.size else 0.0,
        distinct_velocities=int(np.unique(v).size),
        grid_fit=float(np.median(fits)) if fits else 1.0,
        unquantized_pieces=int(sum(f < UNQUANTIZED_BELOW for f in fits)),
    )


def suggested(cfg: DataConfig, expression: Expression) -> DataConfig:
    """``cfg`` with velocity tokens on where the data has dynamics and off where it has none (for a representation
    whose velocity is optional)."""
    if get(cfg.representation).dynamics != "optional":
        return cfg
    return dataclasses.replace(cfg, velocity=expression.has_dynamics)


def what_it_learns(cfg: DataConfig) -> str:
    """What a run with ``cfg`` learns, in words: "pitches, durations and rests on a sixteenth grid; ..."."""
    parts = [get(cfg.representation).learns(cfg)]
    parts.append(
        "notes held as long as the sustain pedal keeps them sounding"
        if cfg.sustain_pedal
        else "notes as written, the sustain pedal ignored"
    )
    if cfg.fim_rate > 0:
        parts.append("also to fill in passages")
    return "; ".join(parts)
