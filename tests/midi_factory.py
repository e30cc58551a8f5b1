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


# --------------------------------------------------------------------------- odd and hostile files


def raw_midi(track: bytes, division: int = 480, fmt: int = 0) -> bytes:
    """A one-track Standard MIDI File around the raw ``track`` bytes (no checks: for broken files)."""
    header = b"MThd" + (6).to_bytes(4, "big") + fmt.to_bytes(2, "big") + (1).to_bytes(2, "big")
    header += division.to_bytes(2, "big")
    return header + b"MTrk" + len(track).to_bytes(4, "big") + track


def many_notes_midi(n: int) -> bytes:
    """``n`` short notes in a row with running status: about 6 bytes per note (a million: 6 MB)."""
    body = b"\x00\x90\x3c\x40" + b"\x01\x3c\x00\x00\x3c\x40" * (n - 1) + b"\x01\x3c\x00\x00\xff\x2f\x00"
    return raw_midi(body)


def simultaneous_notes_midi(n: int) -> bytes:
    """``n`` notes that all start on beat 0 (pitches and channels cycle), all ending on beat 1."""
    channels = [c for c in range(16) if c != 9]
    on = [mido.Message("note_on", note=i % 128, velocity=80, channel=channels[i % 15], time=0) for i in range(n)]
    off = [mido.Message("note_off", note=i % 128, channel=channels[i % 15], time=480 * (i == 0)) for i in range(n)]
    return _save(mido.MidiFile(type=0, tracks=[mido.MidiTrack(on + off)]))


def tempo_midi(us_per_beat: int) -> bytes:
    """Two quarter notes under one tempo of ``us_per_beat`` microseconds per beat (the file format's unit)."""
    events = [mido.MetaMessage("set_tempo", tempo=us_per_beat)]
    for pitch in (60, 62):
        events += [
            mido.Message("note_on", note=pitch, velocity=80, time=0),
            mido.Message("note_off", note=pitch, time=480),
        ]
    return _save(mido.MidiFile(type=0, tracks=[mido.MidiTrack(events)]))


def tempo_map_only_midi(changes: int = 50) -> bytes:
    """A tempo track with ``changes`` tempo changes and not a single note."""
    events = [mido.MetaMessage("set_tempo", tempo=400_000 + 5_000 * i, time=480) for i in range(changes)]
    return _save(mido.MidiFile(type=1, tracks=[mido.MidiTrack(events)]))


def time_signature_every_bar_midi(bars: int = 64) -> bytes:
    """One note per bar, and a new time signature (2/2 ... 7/8) at the start of every bar."""
    events = []
    for i in range(bars):
        events.append(mido.MetaMessage("time_signature", numerator=2 + i % 6, denominator=(2, 4, 8)[i % 3]))
        events += [
            mido.Message("note_on", note=60 + i % 12, velocity=80, time=0),
            mido.Message("note_off", note=60 + i % 12, time=480),
        ]
    return _save(mido.MidiFile(type=0, tracks=[mido.MidiTrack(events)]))


def zip_bytes(entries: dict[str, bytes], symlinks: dict[str, str] | None = None) -> bytes:
    """A deflated zip of ``entries``; ``symlinks`` adds entries marked as symbolic links (name -> target)."""
    import stat
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return buf.getvalue()


def _save(mid: mido.MidiFile) -> bytes:
    buf = io.BytesIO()
    mid.save(file=buf)
    return buf.getvalue()
