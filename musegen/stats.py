"""Dataset statistics for the UI and the CLI: counts, ranges and histograms."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from musegen.config import DataConfig
from musegen.notes import END, PITCH, START, Piece
from musegen.tokens import make_tokenizer


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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def dataset_stats(pieces: list[Piece], cfg: DataConfig | None = None, top_tokens: int = 30) -> DatasetStats:
    """Counts, pitch range and histograms of ``pieces`` under the representation of ``cfg``."""
    cfg = cfg or DataConfig()
    tokenizer = make_tokenizer(cfg)
    token_lists = [tokenizer.tokenize(p) for p in pieces]
    counts = Counter(t for tokens in token_lists for t in tokens)
    vocab = tokenizer.build_vocab(token_lists)
    notes = np.concatenate([p.notes for p in pieces]) if pieces else np.zeros((0, 4))
    pitches = notes[:, PITCH].astype(int)
    durations = np.round((notes[:, END] - notes[:, START]) * cfg.steps_per_beat) / cfg.steps_per_beat
    dur_counts = Counter(float(d) for d in durations)
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
    )
