"""Dataset statistics for the UI and the CLI: counts, ranges and histograms."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from musegen.config import DataConfig
from musegen.errors import ConfigError
from musegen.notes import END, PITCH, START, VELOCITY, Piece
from musegen.representations.registry import for_config

VELOCITY_BINS = 16  # the velocity histogram: 16 bins of 8 over MIDI velocities 1..127 ("1-7", "8-15", ..., "120-127")


def velocity_histogram(velocities: np.ndarray, bins: int = VELOCITY_BINS) -> dict[str, int]:
    """Counts of ``velocities`` in ``bins`` equal bins over 0..127 (velocity 0 is no note, so the first bin
    reads "1-..."), every bin present and in order, keyed by its range."""
    v = np.clip(np.round(np.asarray(velocities, dtype=np.float64)), 1, 127)
    counts, edges = np.histogram(v, bins=bins, range=(0, 128))
    lows = np.ceil(edges).astype(int)  # the integers of bin [a, b): ceil(a) .. ceil(b) - 1
    return {f"{max(int(a), 1)}-{int(b) - 1}": int(c) for a, b, c in zip(lows[:-1], lows[1:], counts, strict=True)}


@dataclass
class DatasetStats:
    pieces: int
    notes: int
    events: int  # tokens of the chosen representation
    vocab_size: int
    pitch_range: tuple[int, int]
    beats: float  # total length in quarter notes
    pitch_histogram: list[int] = field(default_factory=list)  # 128 counts
    duration_histogram: dict[str, int] = field(default_factory=dict)  # note length in beats -> count
    token_histogram: list[tuple[str, int]] = field(default_factory=list)  # most frequent tokens
    events_per_piece: list[int] = field(default_factory=list)
    velocity_histogram: dict[str, int] = field(default_factory=dict)  # "1-7", ..., "120-127" -> notes, in order
    velocity_mean: float = 0.0  # over all notes (0 without notes)
    velocity_spread: float = 0.0  # their standard deviation

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def dataset_stats(pieces: list[Piece], cfg: DataConfig | None = None, top_tokens: int = 30) -> DatasetStats:
    """Counts, pitch range and histograms of ``pieces`` under the representation of ``cfg``."""
    cfg = cfg or DataConfig()
    rep = for_config(cfg)
    token_lists = [rep.tokens(p) for p in pieces]
    counts = Counter(t for tokens in token_lists for t in tokens)
    vocab = rep.fit_vocab(token_lists)
    notes = np.concatenate([p.notes for p in pieces]) if pieces else np.zeros((0, 4))
    pitches = notes[:, PITCH].astype(int)
    durations = np.round((notes[:, END] - notes[:, START]) * cfg.steps_per_beat) / cfg.steps_per_beat
    dur_counts = Counter(float(d) for d in durations)
    velocities = notes[:, VELOCITY]
    return DatasetStats(
        pieces=len(pieces),
        notes=len(notes),
        events=int(sum(len(t) for t in token_lists)),
        vocab_size=len(vocab),
        pitch_range=(int(pitches.min()), int(pitches.max())) if len(pitches) else (0, 0),
        beats=float(sum(p.length_beats for p in pieces)),
        pitch_histogram=np.bincount(pitches, minlength=128)[:128].tolist(),
        duration_histogram={f"{d:g}": c for d, c in sorted(dur_counts.items())},
        token_histogram=counts.most_common(top_tokens),
        events_per_piece=[len(t) for t in token_lists],
        velocity_histogram=velocity_histogram(velocities),
        velocity_mean=float(velocities.mean()) if len(velocities) else 0.0,
        velocity_spread=float(velocities.std()) if len(velocities) else 0.0,
    )


@dataclass(frozen=True)
class Figure:
    """One headline number of a dataset, for people: a label, the value as shown, what it means."""

    label: str
    value: str
    help: str = ""


def headline(stats: DatasetStats, cfg: DataConfig) -> list[Figure]:
    """Pieces, notes, the steps a model reads (tokens, frames) and the size of what it predicts, in ``cfg``'s
    representation."""
    rep = for_config(cfg)
    try:
        size = rep.output_width()  # a closed vocabulary (the 88 keys): known before the data
    except ConfigError:
        size = stats.vocab_size  # an open one: what these pieces gave
    return [
        Figure("Pieces", f"{stats.pieces:,}"),
        Figure("Notes", f"{stats.notes:,}"),
        Figure(rep.units.capitalize(), f"{stats.events:,}", f"In the whole dataset. {rep.unit_help()}"),
        Figure(rep.size_label, f"{size:,}", rep.size_help),
    ]
