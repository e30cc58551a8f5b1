"""The timed representation: TSD tokens, their codec, infilling and constraints put together (registered once,
in :mod:`musegen.representations.registry`)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from musegen.config import ConstraintConfig, DataConfig
from musegen.representations.timed.codec import GRID_WORDS, TimedTokenizer
from musegen.representations.timed.constraint import TimedConstraint
from musegen.representations.timed.infill import TimedInfilling
from musegen.representations.tokens import TokenRepresentation
from musegen.steering.constraints import Constraint
from musegen.steering.infill import InfillPlan
from musegen.vocabulary import Vocabulary


class TimedRepresentation(TimedInfilling, TokenRepresentation):
    """TSD tokens on a grid; see :mod:`musegen.representations.timed`."""

    name: ClassVar[str] = "timed"
    label: ClassVar[str] = "timed — exact pitches, durations and rests (TSD tokens)"
    tokenizer: TimedTokenizer
    dynamics: ClassVar[str] = "optional"
    duration_prefixes: ClassVar[tuple[str, ...]] = ("Duration_",)

    @classmethod
    def learns(cls, cfg: DataConfig) -> str:
        grid = GRID_WORDS.get(cfg.steps_per_beat, f"1/{cfg.steps_per_beat}-beat")
        dynamics = f"dynamics in {cfg.velocity_bins} velocity levels" if cfg.velocity else "no dynamics (one loudness)"
        return f"pitches, durations and rests on a {grid} grid; {dynamics}"

    @classmethod
    def from_config(cls, cfg: DataConfig) -> TimedRepresentation:
        bins = cfg.velocity_bins if cfg.velocity else 0
        tokenizer = TimedTokenizer(cfg.steps_per_beat, cfg.max_shift_beats * cfg.steps_per_beat, velocity_bins=bins)
        vocab = tokenizer.build_vocab()
        return cls(tokenizer, vocab.with_fim() if cfg.fim_rate > 0 else vocab, fim=cfg.fim_rate > 0)

    @classmethod
    def from_vocab(cls, vocab: Vocabulary) -> TimedRepresentation:
        spb = int(vocab.meta.get("steps_per_beat", DataConfig.steps_per_beat))
        max_steps = int(vocab.meta.get("max_steps", DataConfig.max_shift_beats * spb))
        return cls(TimedTokenizer(spb, max_steps, velocity_bins=int(vocab.meta.get("velocity_bins", 0))), vocab)

    def unit_help(self) -> str:
        if self.tokenizer.velocity_bins:
            return "Timed tokens: about four per note (time shift, pitch, velocity, duration)."
        return "Timed tokens: about three per note (time shift, pitch, duration)."

    def time_cursor(self, ids: np.ndarray) -> float:
        tokens = self.vocab.decode(ids)
        steps = sum(int(t.rpartition("_")[2]) for t in tokens if t.startswith("TimeShift_"))
        return steps / float(self.tokenizer.steps_per_beat)

    def known_range(self) -> str:
        return "every MIDI pitch"

    # ------------------------------------------------------------------ constraints

    def constraint(self, cfg: ConstraintConfig | None, batch: int, plan: InfillPlan | None = None) -> Constraint | None:
        if (cfg is None or not cfg.active) and plan is None:
            return None
        return TimedConstraint(self, cfg or ConstraintConfig(), batch, plan)

    # ------------------------------------------------------------------ surprise

    def element_notes(self, ids: np.ndarray) -> np.ndarray:
        """A note is made of its ``Pitch``, ``Velocity`` and ``Duration`` tokens; the ``TimeShift`` tokens that lead to
        an onset belong to the onset's first note (its lowest pitch: notes of an onset go low to high).

        Tokens are read as :meth:`TimedTokenizer.detokenize` reads them (a pitch without a duration is
        its pitch token alone; skipped tokens and trailing shifts make no note).
        """
        notes = self.tokenizer.parse(self.vocab.decode(np.asarray(ids).reshape(-1)))
        starts = [note[0] for note in notes]  # the notes in the order detokenize makes them
        pitches = [note[2] for note in notes]
        members = [note[-1] for note in notes]
        order = np.lexsort((pitches, starts))  # as make_notes sorts decode's notes
        rank = np.empty(len(order), np.int64)
        rank[order] = np.arange(len(order))
        pairs = [(e, int(rank[j])) for j, elements in enumerate(members) for e in elements]
        return np.asarray(pairs, np.int64).reshape(-1, 2)
