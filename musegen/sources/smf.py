"""A fast Standard MIDI File decoder that feeds pretty_midi.

pretty_midi reads files through mido, which builds and type-checks one Python object
per MIDI message (about 13 us each): most of the time of an ingest. pretty_midi only
looks at a handful of event types, so this module decodes the chunks itself, keeps
only those events (notes, program changes, tempo, track names) as light objects, and
hands pretty_midi a ``mido.MidiFile`` holding them. The notes and the tempo map that
come out are exactly the ones mido's path gives (a test checks it on real music).

Hostile input is bounded here, where it is cheapest: a variable-length number (delta time,
meta or sysex length) has at most 4 bytes, as the standard says; every event counts towards
an event budget and every sounding note-on towards a note budget, and decoding stops as soon
as one is passed; a file that lasts longer than a number of beats is refused before pretty_midi
allocates its tick table. The header's number of tracks is read and anything after them is
ignored (as mido does); a file that ends before them is truncated. Corrupt input raises
:class:`SMFError` with a reason a person understands.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import mido
import numpy as np

NOTE_OFF, NOTE_ON, POLY, CONTROL, PROGRAM, PRESSURE, PITCHWHEEL = 0x80, 0x90, 0xA0, 0xB0, 0xC0, 0xD0, 0xE0
SUSTAIN, DRUM_CHANNEL = 64, 9  # the sustain pedal's controller; General MIDI's drum channel (10, counted from 0)
# pretty_midi allocates three arrays of one number per tick (240 MB at its own limit, MAX_TICK, of
# 10 million). A file whose last event lies past this many ticks (35 minutes at 960 ticks per beat
# and 120 BPM) is re-timed at fewer ticks per beat: 48 MB at most, for any length within the beat limit.
MAX_TICK = 2_000_000
TEMPO_COST = 10  # events of the budget one kept tempo change uses
Held = list[tuple[int, int, int]]  # sustain-pedal events: (tick, value, channel)


class SMFError(ValueError):
    """The bytes are not a well-formed Standard MIDI File."""


class TooManyNotes(SMFError):
    """The file holds more notes than the caller allows (raised as soon as the count is passed)."""


class TooManyEvents(SMFError):
    """The file holds more events than the caller allows (raised as soon as the count is passed)."""


class TooLong(SMFError):
    """The file's events reach further than the caller allows, in beats."""


class Event:
    """The attributes of a mido message that pretty_midi reads, and nothing else (one class per kind:
    building an event with explicit fields is five times faster than with keywords)."""

    __slots__ = ("time", "type")

    def __init__(self, type: str, time: int) -> None:
        self.type = type
        self.time = time


class NoteEvent(Event):
    __slots__ = ("channel", "note", "velocity")

    def __init__(self, type: str, time: int, channel: int, note: int, velocity: int) -> None:
        self.type, self.time, self.channel, self.note, self.velocity = type, time, channel, note, velocity


class ProgramEvent(Event):
    __slots__ = ("channel", "program")

    def __init__(self, time: int, channel: int, program: int) -> None:
        self.type, self.time, self.channel, self.program = "program_change", time, channel, program


class TempoEvent(Event):
    __slots__ = ("tempo",)

    def __init__(self, time: int, tempo: int) -> None:
        self.type, self.time, self.tempo = "set_tempo", time, tempo


class NameEvent(Event):
    __slots__ = ("name",)

    def __init__(self, time: int, name: str) -> None:
        self.type, self.time, self.name = "track_name", time, name


def read_smf(
    data: bytes, max_notes: int | None = None, max_events: int | None = None, max_beats: int | None = None
) -> mido.MidiFile:
    """Decode SMF bytes into a ``mido.MidiFile`` of :class:`Event` objects for pretty_midi.

    Decoding stops with :class:`TooManyNotes` / :class:`TooManyEvents` as soon as the file's
    sounding note-ons / events (all tracks together) pass ``max_notes`` / ``max_events``, so a
    huge file is refused in time proportional to the limit; :class:`TooLong` when its last kept
    event lies beyond ``max_beats``.
    """
    if len(data) < 14 or data[:4] != b"MThd":
        raise SMFError("not a MIDI file")
    header_len = int.from_bytes(data[4:8], "big")
    fmt = int.from_bytes(data[8:10], "big")
    declared = int.from_bytes(data[10:12], "big")
    division = int.from_bytes(data[12:14], "big")
    pos = 8 + header_len
    tracks: list[list[Event]] = []
    pedal: list[tuple[int, int]] = []  # (tick, value) of the sustain pedal of every part (a track's channel
    # with a note struck on it) outside the drum channel
    budget = [sys.maxsize if max_notes is None else max_notes, sys.maxsize if max_events is None else max_events]
    while len(tracks) < declared:  # bytes after the declared tracks are ignored, whatever their length
        if pos + 8 > len(data):
            if not tracks:
                raise SMFError("no track chunk")
            raise SMFError(f"truncated file: the header declares {declared} tracks, the file ends after {len(tracks)}")
        chunk, length = data[pos : pos + 4], int.from_bytes(data[pos + 4 : pos + 8], "big")
        if chunk == b"MTrk":
            body = data[pos + 8 : pos + 8 + length]
            if len(body) < length:
                raise SMFError(f"truncated track {len(tracks) + 1}: {len(body)} of {length} bytes")
            tracks.append(_read_track(body, len(tracks) + 1, budget, tempo=not tracks, pedal=pedal))
        pos += 8 + length  # a chunk of another kind is skipped, as the standard asks
    if not tracks:
        raise SMFError("no track chunk")
    midi = mido.MidiFile(type=fmt if fmt in (0, 1, 2) else 1, ticks_per_beat=division)
    midi.tracks = tracks
    last = max(sum(e.time for e in events) for events in tracks)
    if max_beats is not None and division and last > max_beats * division:
        raise TooLong(f"lasts over {max_beats:,} beats ({last:,} ticks at {division} per beat)")
    pedal_ticks = np.array(pedal, dtype=np.float64).reshape(-1, 2)
    if last >= MAX_TICK and division:
        midi.ticks_per_beat = _fit_ticks(tracks, division, last)
    # the sustain pedal in beats (pretty_midi keeps controllers only on tracks with notes; the pedal holds all)
    midi.pedal_beats = pedal_ticks / [max(division, 1), 1]
    return midi


def _read_track(
    buf: bytes, number: int, budget: list[int], tempo: bool, pedal: list[tuple[int, int]] | None = None
) -> list[Event]:
    """One track's kept events. pretty_midi reads tempo only in the first track (``tempo``), ignores a
    repeated tempo and a note-off with nothing sounding, and reads programs and track names only at a
    note; so those are passed on only then (and when they change), and the notes and tempo map that come
    out stay exactly the same, while a file full of such events costs little."""
    events: list[Event] = []
    held: Held = []  # this track's sustain-pedal events
    struck = [False] * 16  # per channel: whether a note was struck on it in this track
    try:
        budget[0], budget[1] = _decode_track(buf, number, budget, tempo, events, held, struck)
    except IndexError:
        raise SMFError(f"track {number} ends in the middle of an event (truncated file)") from None
    # The end sits on the last kept event: time after it (skipped events, silence) never reaches pretty_midi.
    events.append(Event("end_of_track", 0))
    if pedal is not None:  # a channel with no note struck in this track lends no pedal (as symusic reads it)
        pedal.extend((at, value) for at, value, channel in held if struck[channel])
    return events


def _decode_track(
    buf: bytes, number: int, budget: list[int], tempo: bool, events: list[Event], held: Held, struck: list[bool]
) -> tuple[int, int]:
    """Decode one track's events into ``events`` (the pedal's into ``held``, the channels struck into
    ``struck``): the notes and events of the budget left after it. One loop, its locals kept local: it
    is the ingest's hot path."""
    notes_left, events_left = budget
    append = events.append
    programs, passed = [-1] * 16, [-1] * 16  # per channel: the program now, the program passed on
    sounding = [-1] * 2048  # per channel and key: the tick of its open note-on, -1 when none is open
    i, n, status, delta, tick, last_tempo = 0, len(buf), 0, 0, 0, -1
    name: bytes | None = None  # a track name not yet passed on
    while i < n:
        events_left -= 1
        if events_left < 0:
            raise TooManyEvents(f"over the event limit in track {number}")
        value = buf[i]  # variable-length delta time: one byte in the common case
        i += 1
        if value & 0x80:
            value, i = _varlen(buf, i - 1, number)
        delta += value
        tick += value
        byte = buf[i]
        if byte == 0xFF:  # meta event
            kind, start, i = _meta_event(buf, i, number)
            if kind == 0x51 and i - start == 3:
                value = _tempo(buf, start, number)
                if tempo and value != last_tempo:
                    events_left -= TEMPO_COST - 1  # pretty_midi spends about ten times longer on a tempo change
                    append(TempoEvent(delta, value))
                    last_tempo, delta = value, 0
            elif kind == 0x03:
                name = buf[start:i]  # an instrument is named after the track name current at its first note
            elif kind == 0x2F:
                break
            continue
        if byte in (0xF0, 0xF7):  # sysex
            length, i = _varlen(buf, i + 1, number)
            i += length
            continue
        if byte >= 0xF0:
            raise SMFError(f"unexpected status byte 0x{byte:02X} in track {number}")
        if byte & 0x80:
            status = byte
            i += 1
        elif not status:
            raise SMFError(f"data byte without a status byte in track {number}")
        kind, channel = status & 0xF0, status & 0x0F
        first = buf[i]
        if first > 127:
            raise SMFError(f"data byte {first} above 127 in track {number}")
        if kind in (PROGRAM, PRESSURE):
            i += 1
            if kind == PROGRAM:
                programs[channel] = first  # pretty_midi reads the program at a note's note-off
            continue
        second = buf[i + 1]
        if second > 127:
            raise SMFError(f"data byte {second} above 127 in track {number}")
        i += 2
        if kind == CONTROL and first == SUSTAIN and channel != DRUM_CHANNEL:
            held.append((tick, second, channel))
        if kind in (NOTE_ON, NOTE_OFF):
            key = channel << 7 | first
            if kind == NOTE_ON and second:
                struck[channel] = True
                notes_left -= 1
                if notes_left < 0:
                    raise TooManyNotes(f"over the note limit in track {number}")
                sounding[key] = tick
            elif sounding[key] < 0:
                continue  # a note-off with nothing sounding on its key: pretty_midi ignores it
            elif sounding[key] != tick:  # pretty_midi closes the key (it keeps a note-on of this very tick)
                sounding[key] = -1
            if name is not None or programs[channel] != passed[channel]:
                delta, name = _pass_on(append, delta, name, channel, programs, passed)
            append(NoteEvent("note_on" if kind == NOTE_ON else "note_off", delta, channel, first, second))
            delta = 0
    return notes_left, events_left


def _meta_event(buf: bytes, i: int, number: int) -> tuple[int, int, int]:
    """The meta event whose 0xFF byte is at ``buf[i]``: its kind, where its data starts and where it ends."""
    kind, length = buf[i + 1], buf[i + 2]
    i += 3
    if length & 0x80:
        length, i = _varlen(buf, i - 1, number)
    if i + length > len(buf):
        raise SMFError(f"truncated meta event in track {number}")
    return kind, i, i + length


def _tempo(buf: bytes, start: int, number: int) -> int:
    """A set-tempo event's microseconds per beat (its three data bytes at ``buf[start]``), never 0."""
    value = int.from_bytes(buf[start : start + 3], "big")
    if value == 0:
        raise SMFError(f"a tempo of 0 microseconds per beat in track {number}")
    return value


def _pass_on(
    append: Callable[[Event], None],
    delta: int,
    name: bytes | None,
    channel: int,
    programs: list[int],
    passed: list[int],
) -> tuple[int, None]:
    """Pass a pending track name and a changed program on, just before a note of ``channel``: the delta
    time left for the note (0 once something was passed on) and no pending name."""
    if name is not None:
        append(NameEvent(delta, name.decode("latin1")))
        delta = 0
    if programs[channel] != passed[channel]:
        append(ProgramEvent(delta, channel, programs[channel]))
        passed[channel], delta = programs[channel], 0
    return delta, None


def _varlen(buf: bytes, i: int, number: int) -> tuple[int, int]:
    """A variable-length quantity at ``buf[i]``: its value and the index after it (at most 4 bytes)."""
    value = 0
    for _ in range(4):
        byte = buf[i]
        i += 1
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, i
    raise SMFError(f"a variable-length number longer than 4 bytes in track {number}")


def _fit_ticks(tracks: list[list[Event]], division: int, last: int) -> int:
    """Re-time every event at fewer ticks per beat so the last one stays under MAX_TICK; the new division.

    Only a long piece (over 2,083 beats at 960 ticks per beat) is re-timed; its times move by less than
    a tick of the new division (1/20 of a beat at the 100,000-beat limit), and a note shorter than that
    may be lost.
    """
    scaled = max(1, division * (MAX_TICK - 1) // last)
    for events in tracks:
        tick = done = 0
        for event in events:
            tick += event.time
            at = tick * scaled // division
            event.time, done = at - done, at
    return scaled
