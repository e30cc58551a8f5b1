"""A dataset's dynamics and timing, the settings suggested for it, and what a run learns, in words."""

from __future__ import annotations

import numpy as np

from musegen.config import DataConfig
from musegen.datasets.expression import expression_of, suggested, what_it_learns
from musegen.notes import Piece, grid_fit, make_notes


def _piece(jitter_s: float = 0.0, velocities: tuple[int, ...] = (80,), seed: int = 0) -> Piece:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(200):
        start = i / 4 + (rng.uniform(-jitter_s, jitter_s) * 2 if jitter_s else 0.0)  # 120 BPM: 1 s = 2 beats
        rows.append((max(0.0, start), max(0.0, start) + 0.25, 60 + i % 12, velocities[i % len(velocities)]))
    return Piece("p", make_notes(rows))


def test_written_music_at_one_loudness():
    e = expression_of([_piece(), _piece(seed=1)])
    assert e.grid_fit == 1.0 and not e.looks_unquantized and e.timing_message() == ""
    assert not e.has_dynamics and e.distinct_velocities == 1
    assert "one loudness" in e.dynamics_message()
    assert suggested(DataConfig(velocity=True), e).velocity is False


def test_played_music_with_dynamics():
    # onsets jittered by up to 60 ms at 120 BPM: most fall off the sixteenth grid's tolerance of 12.5 ms
    pieces = [_piece(0.06, (30, 55, 80, 105, 120), seed=s) for s in range(3)]
    e = expression_of(pieces)
    assert e.grid_fit < 0.4 and e.looks_unquantized and e.unquantized_pieces == 3
    assert "performance representation" in e.timing_message()
    assert e.has_dynamics and e.distinct_velocities == 5 and 70 < e.velocity_mean < 80
    assert suggested(DataConfig(), e).velocity is True


def test_grid_fit_counts_distinct_onsets_within_a_tenth_of_a_step():
    chord_on_grid = make_notes([(1.0, 2.0, 60, 80), (1.0, 2.0, 64, 80), (1.0, 2.0, 67, 80)])
    off = make_notes([(0.0, 1.0, 60, 80), (0.13, 1.0, 62, 80)])  # 0.52 of a sixteenth off the grid
    assert grid_fit(chord_on_grid) == 1.0
    assert grid_fit(off) == 0.5
    assert grid_fit(make_notes([(0.02, 1.0, 60, 80)])) == 1.0  # 0.08 of a step: within the tolerance
    assert expression_of([]).pieces == 0 and not expression_of([]).looks_unquantized


def test_what_a_run_learns_in_words():
    assert what_it_learns(DataConfig()) == (
        "pitches, durations and rests on a sixteenth grid; no dynamics (one loudness); notes held as long as the "
        "sustain pedal keeps them sounding"
    )
    said = what_it_learns(DataConfig(velocity=True, velocity_bins=16, sustain_pedal=False, fim_rate=0.5))
    assert "dynamics in 16 velocity levels" in said and "pedal ignored" in said and "fill in passages" in said
