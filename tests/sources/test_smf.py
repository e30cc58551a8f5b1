"""The fast SMF decoder gives pretty_midi exactly what mido's path gives, and names corruption."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import mido
import numpy as np
import pretty_midi
import pytest

from musegen.sources.smf import SMFError, read_smf
from tests.midi_factory import midi_bytes, piece_midi


def _notes(pm: pretty_midi.PrettyMIDI) -> np.ndarray:
    rows = [(i.program, i.is_drum, n.start, n.end, n.pitch, n.velocity) for i in pm.instruments for n in i.notes]
    return np.array(sorted(rows), dtype=np.float64)


def test_same_notes_as_mido_on_real_chorales(chorales):
    for piece in chorales:
        data = piece_midi(piece, tempo=77)
        ours = pretty_midi.PrettyMIDI(mido_object=read_smf(data))
        theirs = pretty_midi.PrettyMIDI(io.BytesIO(data))
        assert np.array_equal(_notes(ours), _notes(theirs)), piece.name
        assert np.allclose(ours.get_tempo_changes()[1], theirs.get_tempo_changes()[1])


def test_running_status_program_changes_and_drums():
    mid = mido.MidiFile(type=1, ticks_per_beat=96)
    track = mido.MidiTrack(
        [
            mido.MetaMessage("set_tempo", tempo=400000),
            mido.Message("program_change", program=40, channel=1, time=0),
            mido.Message("note_on", note=60, velocity=70, channel=1, time=0),
            mido.Message("note_on", note=64, velocity=70, channel=1, time=0),
            mido.Message("note_on", note=60, velocity=0, channel=1, time=96),  # running status, velocity 0 = off
            mido.Message("note_off", note=64, channel=1, time=48),
            mido.Message("sysex", data=[1, 2, 3], time=0),
            mido.Message("note_on", note=36, velocity=100, channel=9, time=0),
            mido.Message("note_off", note=36, channel=9, time=10),
        ]
    )
    mid.tracks.append(track)
    buf = io.BytesIO()
    mid.save(file=buf)
    ours = pretty_midi.PrettyMIDI(mido_object=read_smf(buf.getvalue()))
    theirs = pretty_midi.PrettyMIDI(io.BytesIO(buf.getvalue()))
    assert np.array_equal(_notes(ours), _notes(theirs))
    assert {(i.program, i.is_drum) for i in ours.instruments} == {(40, False), (0, True)}


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda d: d[: len(d) - 7], "truncated"),
        (lambda d: d.replace(b"\x90\x3c\x5a", b"\x90\x3c\xff", 1), "above 127"),
        (lambda d: d[:14] + b"MTrk\x00\x00\x00\x04\x00\x3c\x5a\x00", "without a status"),
        (lambda d: b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x01\xe0", "no track"),
    ],
)
def test_corruption_is_named(mutate, match):
    data = midi_bytes([(0, 1, 60), (1, 2, 62)])
    with pytest.raises(SMFError, match=match):
        read_smf(mutate(data))


PIANO = Path(__file__).resolve().parents[3] / "shared" / "data" / "piano"


def _same_as_mido(data: bytes) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pretty_midi's warning about tempo outside the first track
        ours = pretty_midi.PrettyMIDI(mido_object=read_smf(data))
        theirs = pretty_midi.PrettyMIDI(io.BytesIO(data))
    assert np.array_equal(_notes(ours), _notes(theirs))
    assert [(i.name, i.program, i.is_drum) for i in ours.instruments] == [
        (i.name, i.program, i.is_drum) for i in theirs.instruments
    ]
    for a, b in zip(ours.get_tempo_changes(), theirs.get_tempo_changes(), strict=True):
        assert np.array_equal(a, b)


@pytest.mark.slow
@pytest.mark.skipif(not PIANO.is_dir(), reason="the real piano files (../shared/data/piano) are absent")
def test_same_notes_names_and_tempo_maps_as_mido_on_real_piano_music():
    files = sorted(PIANO.rglob("*.mid"))
    assert len(files) == 110
    for path in files[::3]:  # every third: expressive tempo maps, pedal, two hands
        _same_as_mido(path.read_bytes())


def test_what_is_left_out_changes_nothing_pretty_midi_reads():
    """Repeated tempi and programs, tempo outside the first track, note-offs with nothing sounding,
    programs and names changed between a note's on and off: all read as mido's path reads them."""
    msg, meta = mido.Message, mido.MetaMessage
    first = [
        meta("set_tempo", tempo=500000),
        meta("set_tempo", tempo=500000, time=10),
        meta("set_tempo", tempo=400000, time=10),
        meta("set_tempo", tempo=400000, time=10),
    ]
    second = [
        meta("track_name", name="one"),
        meta("set_tempo", tempo=300000),
        msg("note_off", note=61, time=5),  # nothing sounding
        msg("program_change", program=5),
        msg("program_change", program=5),
        msg("note_on", note=60, velocity=70, time=0),
        msg("program_change", program=9, time=3),  # changes the note's program at its note-off
        meta("track_name", name="two"),
        msg("note_off", note=60, time=20),
        msg("note_off", note=60, time=5),  # again: nothing sounding now
        msg("note_on", note=62, velocity=60, time=0),
        msg("note_on", note=62, velocity=60, time=0),  # two at once, one note-off at another tick
        msg("note_on", note=62, velocity=0, time=7),
        msg("note_on", note=63, velocity=60, time=0),
        msg("note_off", note=63, time=0),  # the same tick: pretty_midi keeps no note
        msg("note_on", note=64, velocity=60, time=1),
        msg("note_on", note=64, velocity=60, time=2),
        msg("note_off", note=64, time=0),  # closes the first, keeps the one of this tick
        msg("note_off", note=64, time=4),
        msg("program_change", program=1, channel=3),
        msg("program_change", program=2, channel=3),
        msg("note_on", note=50, velocity=80, channel=3, time=1),
        msg("note_off", note=50, channel=3, time=9),
    ]
    midi = mido.MidiFile(type=1, ticks_per_beat=96, tracks=[mido.MidiTrack(first), mido.MidiTrack(second)])
    buf = io.BytesIO()
    midi.save(file=buf)
    _same_as_mido(buf.getvalue())
