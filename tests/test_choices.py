"""The rules behind a person's choices, written once in the library and used by the pages and the CLI: the
pitch names, the tempo range, the sampling builder, the "Keep to" mapping, the infilling span and the
velocity statistics."""

from __future__ import annotations

import numpy as np
import pytest

from musegen.config import DEFAULT_TEMPO, TEMPO_RANGE, SamplingConfig, clamp_tempo, sampling_choice
from musegen.errors import ConfigError
from musegen.metrics.velocity import velocities
from musegen.notes import PITCH_CLASSES, TONICS, Piece, make_notes, parse_pitch_name, pitch_name
from musegen.steering.constraints import KEYBOARD, NO_KEY, constraint_choice, key_name, keyboard_range, parse_key
from musegen.steering.infill import check_span, default_span, span_parts, span_room
from musegen.training.session_data import data_choice


def test_pitch_names_one_table() -> None:
    assert [pitch_name(p) for p in (21, 60, 61, 70, 108)] == ["A0", "C4", "C#4", "A#4", "C8"]
    # below C0 a name such as 'B-1' also reads as music21's B-flat 1 (the classic tokens' spelling)
    assert all(parse_pitch_name(pitch_name(p)) == p for p in range(12, 128))
    assert [parse_pitch_name(n) for n in ("Bb3", "B-3", "A#3", "c4", "C#5")] == [58, 58, 58, 60, 73]
    assert [parse_pitch_name(n) for n in ("H4", "C", "0.4.7", "G9#", "G10")] == [None] * 5
    assert len(PITCH_CLASSES) == len(TONICS) == 12
    assert all(parse_key(f"{tonic} major").tonic == i for i, tonic in enumerate(TONICS))


def test_one_tempo_range() -> None:
    low, high = TEMPO_RANGE
    assert clamp_tempo(5.0) == low and clamp_tempo(1000.0) == high and clamp_tempo(96.5) == 96.5
    assert clamp_tempo(None) == clamp_tempo(0.0) == clamp_tempo(float("nan")) == DEFAULT_TEMPO


def test_sampling_choice_is_checked_and_greedy_means_argmax() -> None:
    cfg = sampling_choice(length=64, temperature=1.3, greedy=True, seed=3, variations=2)
    assert cfg == SamplingConfig(length=64, temperature=0.0, greedy=True, seed=3, variations=2)
    assert sampling_choice().temperature == SamplingConfig().temperature
    with pytest.raises(ConfigError, match="top_p"):
        sampling_choice(top_p=0.0)
    with pytest.raises(ConfigError, match="length"):
        sampling_choice(length=500, max_length=256)


def test_constraint_choice_maps_the_widgets() -> None:
    assert key_name(NO_KEY, "minor") == "" and key_name("D", "minor") == "D minor"
    assert keyboard_range(*KEYBOARD) == (0, 127) and keyboard_range(48, 84) == (48, 84)
    cfg = constraint_choice(key="Eb dorian", low=48, high=84, max_polyphony=3, grammar=True, unit="token")
    assert (cfg.key, cfg.low, cfg.high, cfg.max_polyphony, cfg.grammar) == ("Eb dorian", 48, 84, 3, True)
    assert not constraint_choice(key=NO_KEY, grammar=False).active
    assert constraint_choice(grammar=True, unit="frame").grammar is False  # frames are always well formed
    with pytest.raises(ConfigError, match="scale"):
        constraint_choice(key="D bogus")
    with pytest.raises(ConfigError, match="widen the pitch range"):
        constraint_choice(key="C major", low=61, high=61)


def _piece(beats: float) -> Piece:
    rows = [(b, b + 1.0, 60 + int(b) % 12, 50 + int(b)) for b in np.arange(0.0, beats, 1.0)]
    return Piece("p", make_notes(rows))


@pytest.mark.parametrize("beats", [1.0, 3.0, 7.5, 12.0, 13.0, 32.0, 100.25, 400.0])
def test_default_span_is_a_valid_span_of_the_piece(beats: float) -> None:
    piece = _piece(beats)
    start, end = default_span(piece)
    assert 0 <= start < end <= span_room(piece)
    assert check_span(piece, start, end) == (start, end)
    if beats > 12:
        assert end - start == 8.0 and start % 4 == 0  # two bars of 4/4 from a barline


def test_span_parts_split_the_notes_as_infilling_does() -> None:
    piece = _piece(16.0)
    kept, regenerated = span_parts(piece, 4.0, 8.0)
    assert regenerated.n_notes == 4 and kept.n_notes == 12
    assert set(regenerated.notes[:, 0]) == {4.0, 5.0, 6.0, 7.0}
    assert span_room(Piece("empty", make_notes([]))) == 1.0


def test_velocities() -> None:
    assert velocities(_piece(8.0)).describe() == "velocities 50-57 (mean 54)"
    flat = Piece("flat", make_notes([(0.0, 1.0, 60, 80), (1.0, 2.0, 62, 80)]))
    assert velocities(flat) is None and velocities(Piece("empty", make_notes([]))) is None


def test_data_choice() -> None:
    cfg, auto = data_choice(
        representation="timed", grid=4, instruments="all", window=64, dynamics="auto", velocity_bins=32, pedal=True
    )
    assert cfg.stride == 32 and auto and not cfg.velocity
    cfg, auto = data_choice(
        representation="timed", grid=4, instruments="all", window=64, dynamics="on", velocity_bins=16, pedal=False
    )
    assert cfg.velocity and not auto and cfg.velocity_bins == 16 and not cfg.sustain_pedal
    cfg, auto = data_choice(
        representation="classic", grid=4, instruments="piano", window=9, dynamics="on", velocity_bins=32, pedal=True
    )
    assert not cfg.velocity and not auto and cfg.stride == 4
