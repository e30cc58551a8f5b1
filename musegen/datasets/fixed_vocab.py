"""The fixed vocabulary of the base model, ``musegen-base-timed-v1``, and any piece mapped onto it.

A base model is pretrained once and fine-tuned on anyone's files; that only works when every user's
piece is written with the same ids, so the vocabulary cannot be fitted on the data. It is the timed
representation's closed vocabulary at fixed settings, and :func:`base_data_config` is the
:class:`~musegen.config.DataConfig` that builds it, so the timed codec, the store and the models use it
as they use any timed vocabulary:

- **TSD, not REMI.** MidiTok's TSD (TimeShift, Pitch, Velocity, Duration) spends one token on a gap of
  any length up to the longest shift and needs no bars; REMI (Bar, Position, Pitch, Velocity, Duration)
  writes the metre, which a performance without a barline grid, a tune in free time or a piece that changes
  metre does not have, and spends a Bar token on every empty bar. The base model sees folk tunes, masses
  and users' MIDI alike, so it takes the tokens that need nothing but onsets (the timed representation's
  own, MidiTok's order: TimeShift, Pitch, Velocity, Duration).
- **12 steps per beat.** The least common multiple of 4 (sixteenths) and 3 (eighth-note triplets): both
  are exact, which covers nearly all written music (the corpus's folk tunes, chorales and masses, and
  quantized MIDI). 24 would add thirty-second notes and sixteenth-note triplets for twice the shift
  tokens a rest needs and a sparser spread of each token; 4, or MidiTok's default (8 per beat for values
  up to 4 beats, 4 beyond), moves every triplet. What 12 cannot write exactly (a played onset, a
  quintuplet) moves by at most a 24th of a beat, and is counted.
- **Shifts and durations of 1-96 steps (8 beats).** Two 4/4 bars: two tied whole notes are one token;
  longer rests chain shifts, longer notes are clipped to 8 beats (counted).
- **All 128 MIDI pitches**, so no pitch of any file is lost.
- **32 velocity levels**, MidiTok's default (``linspace(0, 127, 33)[1:]``, rounded: steps of 4): finer than
  the 8 dynamics marks of a score, coarse enough that each level is seen often; a played velocity moves
  by at most 2.
- **The specials first, the fill-in-the-middle sentinels last**, as every timed vocabulary has them, so a
  run with or without infilling has the same ids for every other token.

:func:`map_piece` writes any piece in it and says what it had to change (:class:`MappingReport`): onsets
moved to the grid, durations clipped or lengthened to one step, notes merged (two at one step and pitch),
pitches outside 0-127 dropped, velocities moved to a level. Nothing is changed without being counted.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from musegen.config import DataConfig
from musegen.notes import END, PITCH, START, VELOCITY, Piece, velocity_bin, velocity_levels
from musegen.paths import PACKAGE_DATA
from musegen.representations.timed import TimedRepresentation, TimedTokenizer, quantize
from musegen.vocabulary import Vocabulary

BASE_VOCAB_NAME = "musegen-base-timed-v1"
BASE_VOCAB_FILE = PACKAGE_DATA / "base_vocab.json"
STEPS_PER_BEAT = 12
MAX_BEATS = 8
VELOCITY_BINS = 32
_EPS = 1e-6  # of a grid step: closer than this is on the grid


def base_data_config(fim_rate: float = 0.0) -> DataConfig:
    """The data settings whose timed vocabulary is the base vocabulary (``fim_rate`` > 0 adds the sentinels
    the base vocabulary ends with)."""
    cfg = DataConfig(
        representation=TimedRepresentation.name,
        steps_per_beat=STEPS_PER_BEAT,
        max_shift_beats=MAX_BEATS,
        velocity=True,
        velocity_bins=VELOCITY_BINS,
        fim_rate=fim_rate,
    )
    cfg.validate()
    return cfg


def base_tokenizer() -> TimedTokenizer:
    return TimedTokenizer(STEPS_PER_BEAT, MAX_BEATS * STEPS_PER_BEAT, velocity_bins=VELOCITY_BINS)


def base_vocabulary() -> Vocabulary:
    """The base vocabulary: the timed vocabulary of :func:`base_data_config` with the FIM sentinels, named."""
    vocab = TimedRepresentation.from_config(base_data_config(fim_rate=0.5)).vocab
    return Vocabulary(list(vocab.tokens), vocab.representation, {**vocab.meta, "name": BASE_VOCAB_NAME})


def base_vocab_json() -> str:
    """The text of musegen/data/base_vocab.json (``python -m musegen.datasets.fixed_vocab`` writes it)."""
    return json.dumps(base_vocabulary().to_dict(), indent=1) + "\n"


def load_base_vocabulary(path: Path = BASE_VOCAB_FILE) -> Vocabulary:
    """The committed base vocabulary, as a user's fine-tuning reads it."""
    return Vocabulary.load(path)


@dataclass
class MappingReport:
    """What mapping pieces onto the base vocabulary changed, counted in notes."""

    notes: int = 0  # notes read
    kept: int = 0  # notes written
    onsets_moved: int = 0  # onsets not on the 12-per-beat grid, moved to the nearest step
    durations_clipped: int = 0  # longer than 8 beats: clipped
    durations_lengthened: int = 0  # shorter than half a step (0 steps on the grid): lengthened to one
    merged: int = 0  # a second note of one pitch at one step: merged into the first
    pitches_dropped: int = 0  # outside MIDI 0-127: dropped
    velocities_moved: int = 0  # not one of the 32 levels: moved to the nearest

    @property
    def changed(self) -> int:
        """Notes touched in any way (a note may count under several headings)."""
        return sum(getattr(self, f.name) for f in fields(self) if f.name not in ("notes", "kept"))

    def add(self, other: MappingReport) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def map_piece(piece: Piece) -> tuple[list[str], MappingReport]:
    """The base vocabulary's tokens of ``piece`` (no ``<bos>``), and what writing it in them changed."""
    report = MappingReport(notes=piece.n_notes)
    notes = np.asarray(piece.notes, dtype=np.float64).reshape(-1, 4)
    ok = (notes[:, PITCH] >= 0) & (notes[:, PITCH] <= 127) & (notes[:, PITCH] == np.round(notes[:, PITCH]))
    report.pitches_dropped = int((~ok).sum())
    notes = notes[ok]
    spb, max_steps = STEPS_PER_BEAT, MAX_BEATS * STEPS_PER_BEAT
    onset = notes[:, START] * spb
    report.onsets_moved = int((np.abs(onset - np.round(onset)) > _EPS).sum())
    steps = np.round(notes[:, END] * spb) - np.round(onset)
    report.durations_clipped = int((steps > max_steps).sum())
    report.durations_lengthened = int((steps < 1).sum())
    vel = np.clip(np.round(notes[:, VELOCITY]), 1, 127)
    levels = velocity_levels(VELOCITY_BINS)[velocity_bin(vel, VELOCITY_BINS)] if len(vel) else vel
    report.velocities_moved = int((levels != notes[:, VELOCITY]).sum())
    q = quantize(Piece(piece.name, notes, piece.tempo), spb, max_steps)
    report.kept = len(q)
    report.merged = len(notes) - len(q)
    return base_tokenizer().tokens_of(q), report


def main() -> int:
    """Write musegen/data/base_vocab.json from :func:`base_vocabulary`."""
    BASE_VOCAB_FILE.write_text(base_vocab_json(), encoding="utf-8")
    print(f"wrote {len(base_vocabulary())} tokens ({BASE_VOCAB_NAME}) to {BASE_VOCAB_FILE}")
    return 0


def vocab_summary() -> dict[str, Any]:
    """The base vocabulary in a few numbers (what corpus.json records)."""
    vocab = base_vocabulary()
    return {"name": BASE_VOCAB_NAME, "size": len(vocab), **vocab.meta}


if __name__ == "__main__":
    raise SystemExit(main())
