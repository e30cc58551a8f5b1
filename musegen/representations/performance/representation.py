"""The performance representation: its codec and constraint put together over the token representation
(registered once, in :mod:`musegen.representations.registry`)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from musegen.config import ConstraintConfig, DataConfig
from musegen.errors import ConfigError
from musegen.representations.performance.codec import DECODE_TEMPO, MAX_SHIFT, SHIFT_MS, PerformanceTokenizer
from musegen.representations.performance.constraint import PerformanceConstraint
from musegen.representations.performance.infill import PerformanceInfilling
from musegen.representations.tokens import TokenRepresentation
from musegen.steering.constraints import Constraint, constraint_choice
from musegen.steering.infill import InfillPlan
from musegen.vocabulary import BOS_ID, PAD_ID, UNK_ID, Vocabulary


class PerformanceRepresentation(PerformanceInfilling, TokenRepresentation):
    """Performance RNN events; see :mod:`musegen.representations.performance`."""

    name: ClassVar[str] = "performance"
    label: ClassVar[str] = "performance — note-on/off, 10 ms time shifts and velocity (Performance RNN)"
    unit: ClassVar[str] = "event"
    uses_grid: ClassVar[bool] = False
    keeps_played_timing: ClassVar[bool] = True
    span_unit: ClassVar[str] = "seconds"
    dynamics: ClassVar[str] = "always"
    fixed_tempo: ClassVar[float] = DECODE_TEMPO
    unit_name: ClassVar[str] = "events"
    size_help: ClassVar[str] = "distinct events (note-on, note-off, time shift, velocity), with <pad>, <unk> and <bos>"
    metric_help: ClassVar[tuple[str, str, str]] = (
        "mean negative log-likelihood per event, nats",
        "exp(NLL): as unsure as a uniform choice among this many events",
        "top-1 next-event accuracy",
    )
    forbidden: ClassVar[tuple[int, ...]] = (PAD_ID, BOS_ID, UNK_ID)  # the vocabulary is closed: <unk> never comes
    tokenizer: PerformanceTokenizer

    @classmethod
    def from_config(cls, cfg: DataConfig) -> PerformanceRepresentation:
        tokenizer = PerformanceTokenizer(velocity_bins=int(cfg.velocity_bins))
        vocab = tokenizer.build_vocab()
        return cls(tokenizer, vocab.with_fim() if cfg.fim_rate > 0 else vocab, fim=cfg.fim_rate > 0)

    @classmethod
    def from_vocab(cls, vocab: Vocabulary) -> PerformanceRepresentation:
        meta = vocab.meta
        bins = int(meta.get("velocity_bins", DataConfig.velocity_bins))
        if not 2 <= bins <= 127:
            raise ConfigError(
                f"vocab.json's velocity_bins is {bins}; performance events have 2 to 127 velocity levels. Train the "
                "run again or put back its vocab.json."
            )
        tokenizer = PerformanceTokenizer(
            shift_ms=int(meta.get("shift_ms", SHIFT_MS)),
            max_shift=int(meta.get("max_shift", MAX_SHIFT)),
            velocity_bins=bins,
        )
        return cls(tokenizer, vocab)

    @classmethod
    def learns(cls, cfg: DataConfig) -> str:
        return (
            f"notes on and off in {SHIFT_MS} ms steps as played (rubato and all), dynamics in {cfg.velocity_bins} "
            "velocity levels"
        )

    def unit_help(self) -> str:
        return (
            "Performance events: about 3.5 per note (its note-on and note-off, the time shifts between events, a "
            "velocity event when the loudness changes), some 33 per second of played piano."
        )

    def time_cursor(self, ids: np.ndarray) -> float:
        steps = 0
        for token in self.vocab.decode(np.asarray(ids).reshape(-1)):
            kind, _, value = token.partition("_")
            if kind == "TimeShift" and value.isdigit() and 1 <= int(value) <= self.tokenizer.max_shift:
                steps += int(value)
        return steps * self.tokenizer.beats_per_step

    def known_range(self) -> str:
        return "every MIDI pitch"

    # ------------------------------------------------------------------ constraints and surprise

    def constraint(self, cfg: ConstraintConfig | None, batch: int, plan: InfillPlan | None = None) -> Constraint | None:
        cfg = constraint_choice(unit=self.unit) if cfg is None else cfg  # none chosen: the run's defaults
        if not cfg.active and not cfg.max_note_seconds and plan is None:
            return None
        return PerformanceConstraint(self, cfg, batch, plan)

    def element_notes(self, ids: np.ndarray) -> np.ndarray:
        """A note is made of its NoteOn and NoteOff, and of the TimeShift and Velocity events that lead to
        its NoteOn from the one before (read as :meth:`PerformanceTokenizer.parse` reads them: a skipped
        NoteOff, trailing shifts and unknown tokens make no note)."""
        notes = self.tokenizer.parse(self.vocab.decode(np.asarray(ids).reshape(-1)))[0]
        order = np.lexsort(([n[2] for n in notes], [n[0] for n in notes]))  # as make_notes sorts decode's notes
        rank = np.empty(len(order), np.int64)
        rank[order] = np.arange(len(order))
        pairs = [(e, int(rank[j])) for j, note in enumerate(notes) for e in note[4]]
        return np.asarray(pairs, np.int64).reshape(-1, 2)
