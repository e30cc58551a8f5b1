"""A fast Standard MIDI File decoder that feeds pretty_midi.

pretty_midi reads files through mido, which builds and type-checks one Python object
per MIDI message (about 13 us each): most of the time of an ingest. pretty_midi only
looks at a handful of event types, so this module decodes the chunks itself, keeps
only those events (notes, program changes, tempo, time signatures, track names) as
light objects, and hands pretty_midi a ``mido.MidiFile`` holding them. The notes that
come out are exactly the ones mido's path gives (a test checks it on real music).

Corrupt input raises :class:`SMFError` with a reason a person understands.
"""

from __future__ import annotations

from typing import Any

import mido

NOTE_OFF, NOTE_ON, POLY, CONTROL, PROGRAM, PRESSURE, PITCHWHEEL = 0x80, 0x90, 0xA0, 0xB0, 0xC0, 0xD0, 0xE0


class SMFError(ValueError):
    """The bytes are not a well-formed Standard MIDI File."""


class TooManyNotes(SMFError):
    """The file holds more notes than the caller allows (raised as soon as the count is passed)."""


class Event:
    """The attributes of a mido message that pretty_midi reads, and nothing else."""

    __slots__ = ("channel", "denominator", "name", "note", "numerator", "program", "tempo", "time", "type", "velocity")

    def __init__(self, type: str, time: int, **fields: Any) -> None:
        self.type = type
        self.time = time
        for key, value in fields.items():
            setattr(self, key, value)


def read_smf(data: bytes, max_notes: int | None = None) -> mido.MidiFile:
    """Decode SMF bytes into a ``mido.MidiFile`` of :class:`Event` objects for pretty_midi.

    With ``max_notes``, decoding stops with :class:`TooManyNotes` as soon as the file's
    note-ons (all tracks) pass it: a huge file is refused in time proportional to the limit.
    """
    if len(data) < 14 or data[:4] != b"MThd":
        raise SMFError("not a MIDI file")
    header_len = int.from_bytes(data[4:8], "big")
    fmt = int.from_bytes(data[8:10], "big")
    division = int.from_bytes(data[12:14], "big")
    pos = 8 + header_len
    tracks = []
    budget = [max_notes if max_notes is not None else -1]  # note-ons left; -1 = no limit
    while pos + 8 <= len(data):
        chunk, length = data[pos : pos + 4], int.from_bytes(data[pos + 4 : pos + 8], "big")
        body = data[pos + 8 : pos + 8 + length]
        if chunk == b"MTrk":
            if len(body) < length:
                raise SMFError(f"truncated track {len(tracks) + 1}: {len(body)} of {length} bytes")
            tracks.append(_read_track(body, len(tracks) + 1, budget))
        pos += 8 + length
    if pos < len(data) and data[pos:].strip(b"\0"):
        raise SMFError("truncated chunk header at the end of the file")
    if not tracks:
        raise SMFError("no track chunk")
    midi = mido.MidiFile(type=fmt if fmt in (0, 1, 2) else 1, ticks_per_beat=division)
    midi.tracks = tracks
    return midi


def _read_track(buf: bytes, number: int, budget: list[int]) -> list[Event]:
    events: list[Event] = []
    left = budget[0]
    append = events.append
    i, n, status, delta = 0, len(buf), 0, 0
    try:
        while i < n:
            value = 0  # variable-length delta time
            while True:
                byte = buf[i]
                i += 1
                value = (value << 7) | (byte & 0x7F)
                if byte < 0x80:
                    break
            delta += value
            byte = buf[i]
            if byte == 0xFF:  # meta event
                kind = buf[i + 1]
                length, i = _varlen(buf, i + 2)
                payload = buf[i : i + length]
                if len(payload) < length:
                    raise SMFError(f"truncated meta event in track {number}")
                i += length
                if kind == 0x51 and length == 3:
                    tempo = int.from_bytes(payload, "big")
                    if tempo == 0:
                        raise SMFError(f"a tempo of 0 microseconds per beat in track {number}")
                    append(Event("set_tempo", delta, tempo=tempo))
                elif kind == 0x58 and length >= 2 and payload[0] > 0:  # a 0/x time signature is skipped
                    append(Event("time_signature", delta, numerator=payload[0], denominator=2 ** payload[1]))
                elif kind == 0x03:
                    append(Event("track_name", delta, name=payload.decode("latin1")))
                elif kind == 0x2F:
                    append(Event("end_of_track", delta))
                    budget[0] = left
                    return events
                else:
                    continue
                delta = 0
                continue
            if byte in (0xF0, 0xF7):  # sysex
                length, i = _varlen(buf, i + 1)
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
                    append(Event("program_change", delta, channel=channel, program=first))
                    delta = 0
                continue
            second = buf[i + 1]
            if second > 127:
                raise SMFError(f"data byte {second} above 127 in track {number}")
            i += 2
            if kind in (NOTE_ON, NOTE_OFF):
                if kind == NOTE_ON and second and left >= 0:
                    left -= 1
                    if left < 0:
                        raise TooManyNotes(f"over the note limit in track {number}")
                name = "note_on" if kind == NOTE_ON else "note_off"
                append(Event(name, delta, channel=channel, note=first, velocity=second))
                delta = 0
    except IndexError:
        raise SMFError(f"track {number} ends in the middle of an event (truncated file)") from None
    append(Event("end_of_track", delta))
    budget[0] = left
    return events


def _varlen(buf: bytes, i: int) -> tuple[int, int]:
    value = 0
    for _ in range(4):
        byte = buf[i]
        i += 1
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, i
    raise SMFError("variable-length number longer than 4 bytes")
