"""What generation gives back: the seed a model continues, the continuations of a seed (a
:class:`Composition`) and the variations of a span (an :class:`Infilling`), each with its MIDI."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from musegen.config import ConstraintConfig, SamplingConfig
from musegen.notes import DEFAULT_TEMPO, END, START, Piece, make_notes, tempo_changes
from musegen.output.midi import piece_to_midi
from musegen.steering.chords import chord_marks, chord_report
from musegen.steering.infill import InfillPlan

# DEFAULT_TEMPO (musegen.notes): the BPM of seeds whose run recorded no tempo (runs before tempos were kept, demos)


@dataclass
class Seed:
    """The passage a model continues: token ids, the same as notes, and where it ends."""

    ids: np.ndarray  # int32 token ids fed to the model ((T, 88) frames for a piano-roll run)
    piece: Piece  # the seed as notes, times from 0
    end_beats: float  # where a continuation begins (the seed's time cursor, not its last note-off)
    label: str  # for people: "held-out piece 3, tokens 0-64"
    tempo: float = DEFAULT_TEMPO  # mean BPM of the seed in its source (its changes: piece.tempo_map); kept by default


@dataclass
class Composition:
    """A seed and its continuations (each timed from 0; they start at ``seed.end_beats``)."""

    seed: Seed
    continuations: list[Piece]
    sampling: SamplingConfig
    run_id: str
    seconds: float  # wall time of the generation
    token_counts: list[int] = field(default_factory=list)  # tokens generated per variation
    constraints: ConstraintConfig | None = None  # the rules it kept (a chord progression among them)

    def placed(self, i: int) -> Piece:
        """Continuation ``i`` alone, timed as in :meth:`joined` (from the seed's start)."""
        return _shifted(self.continuations[i], self.seed.end_beats)

    def chord_marks(self, i: int) -> list[tuple[float, float, str]]:
        """The chords under continuation ``i`` (start, end, symbol), timed as in :meth:`joined`; [] without."""
        end = float(self.placed(i).notes[:, END].max()) if self.continuations[i].n_notes else self.seed.end_beats
        return chord_marks(self.constraints, self.seed.end_beats, end)

    def chord_report(self) -> dict | None:
        """The share of chord tones of every continuation (:func:`musegen.steering.chords.chord_report`)."""
        return chord_report(self.continuations, self.constraints)

    def joined(self, i: int) -> Piece:
        """Seed and continuation ``i`` as one piece (the continuation shifted to the seed's end)."""
        cont = self.continuations[i].notes.copy()
        cont[:, :2] += self.seed.end_beats
        notes = make_notes(np.concatenate([self.seed.piece.notes, cont]))
        return Piece(self.continuations[i].name, notes, self.continuations[i].tempo)

    def trimmed(self, seconds: float, tempo: float) -> Composition:
        """A copy whose continuations stop after ``seconds`` at ``tempo`` (notes cut at the end)."""
        end = seconds * tempo / 60.0
        cut = []
        for piece in self.continuations:
            notes = piece.notes[piece.notes[:, 0] < end].copy()
            notes[:, 1] = np.minimum(notes[:, 1], end)
            cut.append(Piece(piece.name, notes, piece.tempo))
        return Composition(
            self.seed, cut, self.sampling, self.run_id, self.seconds, self.token_counts, self.constraints
        )

    def tempo_map(self) -> np.ndarray | None:
        """The output's tempo map with its seed: the seed's changes, then its mean tempo (the closer guess of
        what follows than its last: BENCHMARKS.md, "Tempo in the output"); None for a seed of one tempo."""
        return tempo_changes(self.seed.piece.tempo_map, self.seed.end_beats, self.seed.tempo)

    def midi(self, i: int, *, tempo: float | None = None, program: int = 0, include_seed: bool = True) -> Any:
        """A PrettyMIDI of continuation ``i`` (the seed on its own track named "seed" when included) at
        ``tempo``, by default with :meth:`tempo_map` (the seed's tempo when None or without the seed)."""
        return piece_to_midi(
            self.continuations[i],
            tempo=self.seed.tempo if tempo is None else tempo,
            program=program,
            seed_piece=self.seed.piece,
            include_seed=include_seed,
            seed_offset=self.seed.end_beats,
            tempo_map=self.tempo_map() if tempo is None and include_seed else None,
        )


@dataclass
class Infilling:
    """Variations of one span of a piece: each the whole piece with that span regenerated."""

    plan: InfillPlan  # the piece, the span (snapped), the prompt
    middles: list[Piece]  # the regenerated notes of each variation, timed from the span's start
    pieces: list[Piece]  # the whole piece with each middle in place (joins repaired)
    sampling: SamplingConfig
    run_id: str
    seconds: float
    token_counts: list[int] = field(default_factory=list)  # tokens of each middle (without <fim_end>)
    constraints: ConstraintConfig | None = None

    @property
    def start(self) -> float:
        return self.plan.start

    @property
    def end(self) -> float:
        return self.plan.end

    def placed(self, i: int) -> Piece:
        """The new notes of variation ``i`` alone, timed as in the whole piece."""
        return _shifted(self.middles[i], self.start)

    def chord_marks(self) -> list[tuple[float, float, str]]:
        """The chords under the span (start, end, symbol), timed as in the whole piece; [] without."""
        return chord_marks(self.constraints, self.start, self.end)

    def chord_report(self) -> dict | None:
        """The share of chord tones of every middle (:func:`musegen.steering.chords.chord_report`)."""
        return chord_report(self.middles, self.constraints)

    def parts(self, i: int) -> list[tuple[str, Piece, float]]:
        """(label, notes, offset) of variation ``i`` for a piano roll: before, the new span, after."""
        notes = self.pieces[i].notes
        inside = (notes[:, START] >= self.start) & (notes[:, START] < self.end)
        name = self.pieces[i].name
        return [
            ("kept", Piece(name, notes[~inside], self.plan.piece.tempo), 0.0),
            ("regenerated", Piece(name, notes[inside], self.plan.piece.tempo), 0.0),
        ]

    def midi(self, i: int, *, tempo: float | None = None, program: int = 0) -> Any:
        """A PrettyMIDI of the whole piece with variation ``i``'s span, at ``tempo`` when given, else with
        the piece's tempo map (its tempo when it has none)."""
        kept = None if tempo is not None else tempo_changes(self.plan.piece.tempo_map)
        tempo = self.plan.piece.tempo if tempo is None else tempo
        return piece_to_midi(self.pieces[i], tempo=tempo, program=program, tempo_map=kept)


def _shifted(piece: Piece, beats: float) -> Piece:
    notes = piece.notes.copy()
    notes[:, :2] += beats
    return Piece(piece.name, notes, piece.tempo)
