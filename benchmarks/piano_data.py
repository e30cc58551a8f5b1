"""The piano table's music: the real piano pieces, their fixed held-out split, the seeds cut from their
openings, the real excerpts the generated music is compared with, and the dynamic range of a rendering.

Used by :mod:`benchmarks.piano_row` (one row's training and generation) and :mod:`benchmarks.bench_piano`
(the reference set and the table); see the latter's docstring for the method.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PIANO = ROOT.parent / "shared" / "data" / "piano"
SEED_NOTES = 24  # notes of a held-out piece's opening that the model continues
VAL_FRACTION = 0.2  # 22 of the 110 pieces held out: one seed from each of 20
SPLIT_SEED = 0
RENDER = {"reverb": True, "chorus": False, "tail_s": 0.0}  # no tail: the measure is of the music, not the room


def load_pieces(pedal: bool) -> list[Any]:
    """The real piano pieces read with the pedal on or off, sorted by name."""
    from musegen.config import DataConfig
    from musegen.sources.ingest import ingest_paths

    report = ingest_paths([PIANO], DataConfig(sustain_pedal=pedal))
    return sorted(report.pieces, key=lambda p: p.name)


def held_out_names(names: list[str]) -> list[str]:
    """The held-out pieces of the fixed split (as build_dataset draws them from pieces in this order)."""
    from musegen.datasets.dataset import split_by_piece

    _, val = split_by_piece(len(names), VAL_FRACTION, SPLIT_SEED)
    return [names[i] for i in val]


def opening_end(piece: Any) -> float:
    """The beat where a piece's seed ends: the onset of its note number ``SEED_NOTES + 1``."""
    starts = np.sort(piece.notes[:, 0])
    return float(starts[min(SEED_NOTES, len(starts) - 1)])


def seed_piece(piece: Any) -> Any:
    """The first ``SEED_NOTES`` notes of ``piece`` (those that begin before :func:`opening_end`)."""
    from musegen.notes import Piece

    notes = piece.notes[piece.notes[:, 0] < opening_end(piece)]
    return Piece(piece.name, notes, piece.tempo, piece.tempo_map)


def real_excerpts(pieces: list[Any], seconds: float) -> list[Any]:
    """The ``seconds`` of each real piece after its seed: what the real piece does next."""
    from musegen.metrics.music import excerpt

    return [excerpt(p, float(p.seconds(opening_end(p))), seconds, name=f"real: {p.name}") for p in pieces]


def dynamic_ranges(pieces: list[Any]) -> tuple[list[float], str]:
    """The dynamic range (dB) of each piece's rendering, and the engine that rendered them."""
    from musegen.metrics.dynamics import dynamic_range
    from musegen.output.audio import render

    out, engine = [], ""
    for piece in pieces:
        if not piece.n_notes:
            continue
        result = render(piece, **RENDER)
        engine = result.engine
        out.append(dynamic_range(result.wav).range_db)
    return out, engine
