"""Tiny MIDI files built in code, good and bad, for tests (as pretty_midi's tests do)."""

from __future__ import annotations

import io

import mido
import pretty_midi

from musegen.notes import Piece


def midi_bytes(
    notes: list[tuple[float, float, int]], program: int = 0, is_drum: bool = False, tempo: float = 120.0
) -> bytes:
    """A one-instrument MIDI file; ``notes`` are (start_s, end_s, pitch)."""
    pm = pretty_midi.PrettyMIDI(initial_tempo=tempo)
    inst = pretty_midi.Instrument(program=program, is_drum=is_drum)
    inst.notes = [pretty_midi.Note(velocity=90, pitch=p, start=s, end=e) for s, e, p in notes]
    pm.instruments.append(inst)
    buf = io.BytesIO()
    pm.write(buf)
    return buf.getvalue()


def scale_midi(program: int = 0) -> bytes:
    """A C major scale of eighth notes at 120 BPM (0.25 s each)."""
    return midi_bytes([(i * 0.25, (i + 1) * 0.25, p) for i, p in enumerate([60, 62, 64, 65, 67, 69, 71, 72])], program)


def piece_midi(piece: Piece, tempo: float = 120.0) -> bytes:
    """A Piece written as MIDI (beats to seconds at ``tempo``).

    Notes that overlap at the same pitch (two voices in unison) go to separate tracks,
    since one MIDI channel cannot hold both.
    """
    spb = 60.0 / tempo
    pm = pretty_midi.PrettyMIDI(initial_tempo=tempo)
    tracks: list[pretty_midi.Instrument] = []
    busy: list[dict[int, float]] = []  # per track: pitch -> end time of its last note
    for s, e, p, _ in piece.notes:
        pitch = int(p)
        k = next((i for i, b in enumerate(busy) if b.get(pitch, -1.0) <= s * spb), None)
        if k is None:
            tracks.append(pretty_midi.Instrument(program=0))
            busy.append({})
            k = len(tracks) - 1
        tracks[k].notes.append(pretty_midi.Note(velocity=90, pitch=pitch, start=s * spb, end=e * spb))
        busy[k][pitch] = e * spb
    pm.instruments.extend(tracks)
    buf = io.BytesIO()
    pm.write(buf)
    return buf.getvalue()


def no_notes_midi() -> bytes:
    mid = mido.MidiFile(type=1)
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500000), mido.MetaMessage("end_of_track")])
    mid.tracks.append(track)
    buf = io.BytesIO()
    mid.save(file=buf)
    return buf.getvalue()


def type2_midi() -> bytes:
    mid = mido.MidiFile(type=2)
    for _ in range(2):
        mid.tracks.append(
            mido.MidiTrack(
                [mido.Message("note_on", note=60, velocity=90, time=0), mido.Message("note_off", note=60, time=480)]
            )
        )
    buf = io.BytesIO()
    mid.save(file=buf)
    return buf.getvalue()


def absurd_tick_midi() -> bytes:
    mid = mido.MidiFile(type=0)
    mid.tracks.append(
        mido.MidiTrack(
            [
                mido.Message("note_on", note=60, velocity=90, time=0),
                mido.Message("note_off", note=60, time=0x0FFFFFFF),
            ]
        )
    )
    buf = io.BytesIO()
    mid.save(file=buf)
    return buf.getvalue()
