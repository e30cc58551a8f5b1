"""The fast SMF decoder gives pretty_midi exactly what mido's path gives, and names corruption."""

from __future__ import annotations

import io

import mido
import numpy as np
import pretty_midi
import pytest

from musegen.smf import SMFError, read_smf
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
