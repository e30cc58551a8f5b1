"""The sustain pedal on ingest: notes sound on while it is down, cut by the same key struck again."""

from __future__ import annotations

import io

import numpy as np
import pretty_midi
import pytest

from musegen.config import DataConfig, Limits
from musegen.notes import make_notes
from musegen.sources.decode import decode_notes
from musegen.sources.ingest import read_midi_bytes
from musegen.sources.pedal import pedal_intervals, sustain

DECODERS = ["smf", "symusic"]


def test_intervals_of_downs_and_ups_in_file_order():
    events = np.array([[0, 127], [1, 100], [2, 0], [2, 0], [3, 64], [5, 63], [6, 127]])
    np.testing.assert_array_equal(pedal_intervals(events, 10.0), [[0, 2], [3, 5], [6, 10]])
    assert pedal_intervals(np.array([[1, 0], [2, 10]]), 5.0).shape == (0, 2)  # never pressed
    assert pedal_intervals(np.zeros((0, 2)), 5.0).shape == (0, 2)


def test_a_note_let_go_under_the_pedal_sounds_until_it_comes_up_or_its_key_is_struck_again():
    notes = make_notes(
        [
            (0.0, 0.5, 60, 80),  # let go under the pedal (down 0-4): held to 4 ...
            (0.0, 0.5, 64, 80),  # ... but its key is struck again at 2: held to 2
            (2.0, 2.5, 64, 80),  # held to 4
            (4.5, 5.0, 67, 80),  # after the pedal: as played
            (3.0, 6.0, 72, 80),  # still down when the pedal comes up: as played
            (7.0, 7.5, 55, 80),  # the pedal down again at 7 and never up: held to the piece's end (9)
            (8.0, 9.0, 57, 80),
        ]
    )
    events = np.array([[0.0, 127], [4.0, 0], [7.0, 127]])
    held = sustain(notes, events)
    by = {(int(p), s): e for s, e, p, _ in held}
    assert by[(60, 0.0)] == 4.0 and by[(64, 0.0)] == 2.0 and by[(64, 2.0)] == 4.0
    assert by[(67, 4.5)] == 5.0 and by[(72, 3.0)] == 6.0 and by[(55, 7.0)] == 9.0 and by[(57, 8.0)] == 9.0
    np.testing.assert_array_equal(held[:, [0, 2, 3]], notes[:, [0, 2, 3]])  # only ends move
    np.testing.assert_array_equal(sustain(notes, np.zeros((0, 2))), notes)


def _pedal_file(pedal_track: int = 1) -> bytes:
    """Two hands on two tracks (120 BPM: 1 s = 2 beats), the pedal on one of them, as piano-midi.de writes."""
    pm = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    right, left = pretty_midi.Instrument(0, name="right"), pretty_midi.Instrument(0, name="left")
    right.notes = [pretty_midi.Note(90, 72, 0.0, 0.25), pretty_midi.Note(90, 74, 0.5, 0.75)]
    left.notes = [pretty_midi.Note(60, 48, 0.0, 0.25), pretty_midi.Note(60, 48, 1.0, 1.25)]
    cc = [pretty_midi.ControlChange(64, 127, 0.0), pretty_midi.ControlChange(64, 0, 1.5)]
    (right, left)[pedal_track].control_changes = cc
    pm.instruments = [right, left]
    buf = io.BytesIO()
    pm.write(buf)
    return buf.getvalue()


@pytest.mark.parametrize("decoder", DECODERS)
def test_both_decoders_hold_both_hands_with_the_pedal_of_one_track(decoder):
    for track in (0, 1):
        notes, *_ = decode_notes(_pedal_file(track), DataConfig(), Limits(), decoder=decoder)
        ends = {(int(p), round(s, 3)): round(e, 3) for s, e, p, _ in notes}
        # pedal down 0-3 beats: the right hand held to 3, the left's first note cut at 2 where its key returns
        assert ends == {(72, 0.0): 3.0, (74, 1.0): 3.0, (48, 0.0): 2.0, (48, 2.0): 3.0}
        plain, *_ = decode_notes(_pedal_file(track), DataConfig(sustain_pedal=False), Limits(), decoder=decoder)
        assert sorted(round(e - s, 3) for s, e, _, _ in plain) == [0.5] * 4  # as played


def _pedal_on(channel: int, strike: int | None, separate_track: bool = False) -> bytes:
    """A quarter note on channel 0 with the pedal down over 2 beats on ``channel``, in the note's track or
    a track of its own, and a note struck on channel ``strike`` in the pedal's track (None: none)."""
    import mido

    midi = mido.MidiFile(type=1, ticks_per_beat=480)
    notes, pedal = mido.MidiTrack(), mido.MidiTrack()
    midi.tracks += [notes, pedal] if separate_track else [notes]
    notes += [mido.Message("note_on", note=60, velocity=64), mido.Message("note_off", note=60, time=240)]
    target = pedal if separate_track else notes
    target.append(mido.Message("control_change", channel=channel, control=64, value=127))
    if strike is not None:
        target.append(mido.Message("note_on", channel=strike, note=40, velocity=30))
    target.append(mido.Message("control_change", channel=channel, control=64, value=0, time=960))
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("decoder", DECODERS)
def test_a_pedal_holds_where_its_track_and_channel_strike_a_note(decoder):
    """A pedal lends its hold from a channel with a note struck on it in the pedal's own track (the parts
    symusic keeps), and from there holds every note; elsewhere it is ignored, by both decoders alike."""

    def end_of_c4(data: bytes) -> float:
        notes, *_ = decode_notes(data, DataConfig(), Limits(), decoder=decoder)
        return float(notes[notes[:, 2] == 60][0, 1])

    assert end_of_c4(_pedal_on(0, None)) == 2.5  # let go at 0.5, held to the pedal's 2.5
    assert end_of_c4(_pedal_on(1, None)) == 0.5  # a channel with no note: a stray controller
    assert end_of_c4(_pedal_on(1, 1)) == 2.5  # a channel of its own with a note (unended): a part
    assert end_of_c4(_pedal_on(1, 0)) == 0.5  # a note on another channel than the pedal's
    assert end_of_c4(_pedal_on(0, None, separate_track=True)) == 0.5  # a track without notes
    assert end_of_c4(_pedal_on(0, 0, separate_track=True)) == 2.0  # a track with one (its pedal up at beat 2)


def test_the_setting_reaches_ingest_and_its_cache():
    data = _pedal_file()
    held = read_midi_bytes(data, "pedal.mid", DataConfig())
    dry = read_midi_bytes(data, "pedal.mid", DataConfig(sustain_pedal=False))
    assert held.notes[:, 1].sum() > dry.notes[:, 1].sum()
    again = read_midi_bytes(data, "pedal.mid", DataConfig())  # from the cache, under its own key
    np.testing.assert_array_equal(again.notes, held.notes)
