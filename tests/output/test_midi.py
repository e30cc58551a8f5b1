"""Note events to MIDI: round trip, tempo/program/velocity, seed track, repairs, always valid."""

from __future__ import annotations

import io

import mido
import numpy as np
import pretty_midi
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from musegen.errors import ConfigError
from musegen.notes import Piece, beats_to_seconds, make_notes
from musegen.output.midi import RESOLUTION, midi_bytes, piece_to_midi, sanitize_notes, write_midi

TICK_BEATS = 1.0 / RESOLUTION


def read_back(data: bytes) -> pretty_midi.PrettyMIDI:
    return pretty_midi.PrettyMIDI(io.BytesIO(data))


def notes_in_beats(pm: pretty_midi.PrettyMIDI, tempo: float, track: int = 0) -> np.ndarray:
    spb = 60.0 / tempo
    return make_notes([(n.start / spb, n.end / spb, n.pitch, n.velocity) for n in pm.instruments[track].notes])


def test_round_trip_keeps_notes_within_a_tick():
    piece = Piece(
        "melody", make_notes([(0, 1, 60, 80), (1, 1.5, 64, 90), (1.5, 2.25, 67, 100), (1 / 3, 2 / 3, 48, 70)])
    )
    pm = read_back(midi_bytes(piece_to_midi(piece, tempo=90.0)))
    got = notes_in_beats(pm, 90.0)
    assert got.shape == piece.notes.shape
    np.testing.assert_allclose(got[:, :2], piece.notes[:, :2], atol=TICK_BEATS)
    np.testing.assert_array_equal(got[:, 2:], piece.notes[:, 2:])
    _times, tempi = pm.get_tempo_changes()
    assert tempi[0] == pytest.approx(90.0, abs=0.01)


def test_program_velocity_and_track_name():
    piece = Piece("tune", make_notes([(0, 1, 60, 30), (1, 2, 62, 120)]))
    pm = read_back(midi_bytes(piece_to_midi(piece, program=40, velocity=77)))
    (inst,) = pm.instruments
    assert inst.program == 40 and inst.name == "tune" and not inst.is_drum
    assert [n.velocity for n in inst.notes] == [77, 77]
    default = read_back(midi_bytes(piece_to_midi(piece)))
    assert default.instruments[0].program == 0  # Acoustic Grand Piano
    assert [n.velocity for n in default.instruments[0].notes] == [30, 120]


def test_seed_goes_first_on_its_own_track():
    seed = Piece("seed-src", make_notes([(0, 1, 60, 90), (1, 2, 62, 90)]))
    cont = Piece("generated", make_notes([(0, 1, 64, 90), (1, 2, 65, 90)]))
    pm = read_back(midi_bytes(piece_to_midi(cont, tempo=120.0, seed_piece=seed)))
    names = [inst.name for inst in pm.instruments]
    assert names == ["seed", "generated"]
    assert [n.pitch for n in pm.instruments[0].notes] == [60, 62]
    gen = notes_in_beats(pm, 120.0, track=1)
    np.testing.assert_allclose(gen[:, 0], [2.0, 3.0], atol=TICK_BEATS)  # shifted past the seed

    without = read_back(midi_bytes(piece_to_midi(cont, seed_piece=seed, include_seed=False)))
    assert [inst.name for inst in without.instruments] == ["generated"]
    assert without.instruments[0].notes[0].start == pytest.approx(0.0)

    offset = read_back(midi_bytes(piece_to_midi(cont, seed_piece=seed, seed_offset=4.0)))
    assert notes_in_beats(offset, 120.0, track=1)[0, 0] == pytest.approx(4.0, abs=TICK_BEATS)


def test_a_tempo_map_is_written_and_the_notes_follow_it():
    seed = Piece("seed-src", make_notes([(b, b + 1, 60 + b, 90) for b in range(8)]))
    cont = Piece("generated", make_notes([(0, 1, 72, 90), (3, 4, 74, 90)]))
    # 60 BPM, 120 from beat 2, 90 from 4 (twice: written once), 1000 from 6 (past the range: 400), then 100
    tm = np.array([[0, 60], [2, 120], [4, 90], [5, 90], [6, 1000], [8, 100]], dtype=float)
    pm = read_back(midi_bytes(piece_to_midi(cont, tempo=100.0, seed_piece=seed, seed_offset=8.0, tempo_map=tm)))
    written = np.array([[0, 60], [2, 120], [4, 90], [6, 400], [8, 100]], dtype=float)
    times, tempi = pm.get_tempo_changes()
    np.testing.assert_allclose(tempi, written[:, 1], rtol=1e-5)  # microseconds per beat: a truncated integer
    np.testing.assert_allclose(times, beats_to_seconds(written[:, 0], written), atol=1e-5)
    np.testing.assert_allclose(times, [0, 2, 3, 4 / 3 + 3, 4 / 3 + 3 + 0.3], atol=1e-5)
    seed_starts = [n.start for n in pm.instruments[0].notes]
    np.testing.assert_allclose(seed_starts, beats_to_seconds(np.arange(8.0), written), atol=1e-5)
    cont_starts = [n.start for n in pm.instruments[1].notes]  # beats 8 and 11, at 100 BPM from 4.63 s
    np.testing.assert_allclose(cont_starts, [times[-1], times[-1] + 1.8], atol=1e-5)
    assert pm.get_end_time() == pytest.approx(times[-1] + 2.4, abs=1e-5)
    plain = read_back(midi_bytes(piece_to_midi(cont, tempo=100.0, seed_piece=seed, seed_offset=8.0)))
    assert len(plain.get_tempo_changes()[0]) == 1 and plain.instruments[1].notes[0].start == pytest.approx(4.8)


def test_empty_piece_is_a_valid_file(tmp_path):
    pm = piece_to_midi(Piece("nothing", make_notes([])))
    path = write_midi(pm, tmp_path / "out" / "empty.mid")
    assert path.read_bytes()[:4] == b"MThd"
    back = pretty_midi.PrettyMIDI(str(path))
    assert sum(len(i.notes) for i in back.instruments) == 0
    assert [p.name for p in path.parent.iterdir()] == ["empty.mid"]  # no temporary file left behind


def test_repairs_bad_notes():
    rows = np.array(
        [
            [0.0, 0.0, 60, 90],  # zero duration
            [1.0, 0.5, 62, 90],  # negative duration
            [2.0, 3.0, 130, 90],  # pitch out of range
            [2.0, 3.0, -1, 90],  # pitch out of range
            [np.nan, 1.0, 60, 90],  # not a number
            [-1.0, 0.5, 50, 500],  # negative start, velocity too high
            [4.0, 6.0, 72, 90],  # overlaps the next 72
            [5.0, 5.5, 72, 60],
            [8.0, 9.0, 74, 90],  # same onset and pitch twice: merged, longest kept
            [8.0, 10.0, 74, 50],
        ]
    )
    _ticks, report = sanitize_notes(rows)
    assert report == {"dropped_invalid": 1, "dropped_pitch": 2, "lengthened": 2, "merged": 1, "truncated": 1}
    pm = read_back(midi_bytes(piece_to_midi(Piece("bad", rows))))
    got = notes_in_beats(pm, 120.0)
    assert len(got) == 6
    assert (got[:, 1] > got[:, 0]).all()
    by_pitch = {int(p): (s, e, v) for s, e, p, v in got if p != 72}
    assert by_pitch[50] == (0.0, 0.5, 127)
    assert by_pitch[74][1] == pytest.approx(10.0)
    seventy_two = got[got[:, 2] == 72]
    np.testing.assert_allclose(seventy_two[:, :2], [[4.0, 5.0], [5.0, 5.5]], atol=TICK_BEATS)


@pytest.mark.parametrize(
    "kwargs",
    [{"tempo": 10.0}, {"tempo": 401}, {"tempo": float("nan")}, {"program": 128}, {"program": -1}, {"velocity": 0}],
    ids=str,
)
def test_settings_out_of_range_raise_config_error(kwargs):
    with pytest.raises(ConfigError):
        piece_to_midi(Piece("x", make_notes([(0, 1, 60, 90)])), **kwargs)


def test_real_chorale_round_trip(chorales):
    piece = chorales[0]
    pm = read_back(midi_bytes(piece_to_midi(piece, tempo=100.0)))
    got = notes_in_beats(pm, 100.0)
    _, report = sanitize_notes(piece.notes)
    # Only unisons (two voices on one pitch at once) merge on a single track; nothing is dropped.
    assert report["dropped_invalid"] == report["dropped_pitch"] == 0
    assert len(got) == len(piece.notes) - report["merged"]
    onsets = {(round(s * RESOLUTION), int(p)) for s, _, p, _ in piece.notes}
    assert {(round(s * RESOLUTION), int(p)) for s, _, p, _ in got} == onsets


values = st.one_of(
    st.floats(-10, 200),  # mostly plausible times, pitches and velocities
    st.floats(-1e6, 1e6),
    st.sampled_from([float("nan"), float("inf"), -float("inf"), 0.0]),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(arrays(np.float64, st.tuples(st.integers(0, 40), st.just(4)), elements=values))
def test_random_note_arrays_always_give_a_valid_midi_file(rows):
    data = midi_bytes(piece_to_midi(Piece("random", rows)))
    assert mido.MidiFile(file=io.BytesIO(data)).ticks_per_beat == RESOLUTION
    pm = read_back(data)
    for inst in pm.instruments:
        last_end: dict[int, float] = {}
        for note in sorted(inst.notes, key=lambda n: n.start):
            assert 0 <= note.pitch <= 127 and 1 <= note.velocity <= 127
            assert note.end > note.start >= 0
            assert note.start >= last_end.get(note.pitch, 0.0) - 1e-9  # no overlapping same-pitch notes
            last_end[note.pitch] = note.end
