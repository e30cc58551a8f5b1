"""One MIDI file's bytes to notes in beats with symusic (C++): the notes, tempo and reasons of the SMF decoder.

symusic parses a typical piano file in a fraction of a millisecond (pretty_midi behind musegen's own
SMF decoder takes about 15 ms). What comes out is made to match :func:`musegen.sources.smf_decode.decode_smf`:

- Chunks are walked here, as the SMF decoder does: the header's number of tracks is read, other chunk
  kinds are skipped, bytes after the declared tracks are ignored; symusic gets a clean file of just those.
- Times are read in ticks: beats are ticks / ticks per beat, exact (pretty_midi went through seconds).
- pretty_midi ends every sounding note of a key at the key's next note-off and drops a note whose note-off
  comes at its very tick; symusic ends only the oldest (first in, first out) and keeps zero-length notes.
  :func:`_pretty_midi_ends` turns the one into the other.
- The tempos are pretty_midi's: those of the first track only; the first tempo is the last at its tick 0,
  else 120 BPM. The tempo map's beats are exact (ticks / ticks per beat); two different tempos at one
  tick after 0 (symusic's order of them is not the file's), a tempo event of another length than 3 bytes
  (symusic reads past it; the SMF decoder ignores it) or too many tempo changes go to the SMF decoder.
- Sysex events symusic reads otherwise go to the SMF decoder: an F7 escape event (symusic reads F7 as one
  byte and its data as events) and a data byte right after a sysex (running status, which the SMF decoder
  keeps from before the sysex). So does a key struck at the tick of a note-off that pretty_midi finds
  nothing else sounding at: pretty_midi then drops the note or not by the order of the two in the file,
  which symusic's pairing does not keep. One scan of the F0 and F7 bytes finds the first two (one inside
  other data may send a file for nothing: 1 of the 110 real piano files).
- Whatever symusic refuses, or reads where the SMF decoder would refuse (a tempo of 0, ticks past
  2**31, four bytes with the high bit in a row: a variable-length number of 5 bytes), is decoded again
  by the SMF decoder, so a file gets the SMF decoder's reason word for word (such files are rare; its
  cost is bounded by the same limits).
- Limits: the file size in :func:`~musegen.sources.smf_decode.check_header`; the note and beat limits on what
  symusic read (its memory grows with the file's size, at most 10 MB, not with its claims); the event
  limit, which symusic cannot count, by the SMF decoder's streaming scan first, but only for a file big
  enough to hold that many events (2 bytes an event at least: over 2 MB at the default limit). Memory and
  CPU time are bounded for any file by the decoding worker's RLIMIT_AS and RLIMIT_CPU.

Differences left (each pinned by a test in ``tests/sources/test_symusic_decode.py`` or
``tests/hardening/test_symusic_battery.py``): a key struck again before its note-off keeps only the notes
symusic pairs (pretty_midi ended both at the one note-off); a note sounding across a program change counts
under the program at its start (pretty_midi: at its end), which matters only to the instrument filter; two
notes of one key at one tick, with a note-off at that tick between them, keep the second; a data byte above
127 where symusic does not look (aftertouch, channel pressure, a pitch bend's low byte) is read, not refused;
so is a system common or real-time message in a track (F1-F3, F6, F8, FA-FC, FE: they have no place in a file,
and a flipped bit makes one of a meta event's FF), which symusic skips; long pieces keep exact times (the SMF
decoder re-times a file past 2,000,000 ticks); notes of one start and pitch in one track but on two channels
come in channel order (pretty_midi: in the order their first notes ended).
"""

from __future__ import annotations

import logging
import re
from typing import Any

import numpy as np

from musegen.config import DataConfig, Limits
from musegen.errors import MidiReadError
from musegen.notes import make_notes
from musegen.sources.pedal import sustain
from musegen.sources.smf import SMFError, _varlen
from musegen.sources.smf_decode import MAX_TEMPO_ROWS, PIANO_PROGRAMS, check_header, decode_smf, scan_smf, tempo_rows

try:
    import symusic
except ImportError:  # the SMF decoder stays the default then
    symusic = None

log = logging.getLogger(__name__)
_KEY = 40  # pitch << _KEY | tick: one sortable int64 per (pitch, tick); ticks stay under 2**31
_ODD_TEMPO = re.compile(rb"\xff\x51[^\x03]", re.DOTALL)  # a tempo meta event whose length is not 3 (or alike bytes)


class _SMFSays(Exception):
    """Leave this file to the SMF decoder: its reason (or its notes) is the reference."""


def available() -> bool:
    """Whether symusic can be imported here."""
    return symusic is not None


def decode_symusic(data: bytes, cfg: DataConfig, limits: Limits) -> tuple[np.ndarray, float, np.ndarray]:
    """MIDI bytes to (notes in beats, first tempo in BPM, tempo map), as
    :func:`~musegen.sources.smf_decode.decode_smf`."""
    check_header(data, limits)
    try:
        return _decode(data, cfg, limits)
    except _SMFSays as why:
        log.debug("symusic left a file to the SMF decoder: %s", why)
        return decode_smf(data, cfg, limits)


def _decode(data: bytes, cfg: DataConfig, limits: Limits) -> tuple[np.ndarray, float, np.ndarray]:
    division = int.from_bytes(data[12:14], "big")
    if _four_high_bytes(data):  # symusic reads variable-length numbers of 5 bytes and more
        raise _SMFSays("four bytes with the high bit in a row: a variable-length number too long, or text")
    bodies = _track_bodies(data)
    for body in bodies:
        _check_sysex(body)
    if sum(len(b) for b in bodies) > 2 * limits.max_events_per_file:  # could hold more events than allowed
        scan_smf(data, limits)  # raises the SMF decoder's reason at the limit
    score = _parse(_clean_file(bodies, division))
    tracks = []  # (program, is_drum, notes in ticks) of each symusic track with notes
    tempos = score.tempos.numpy()
    last = int(tempos["time"].max()) if len(tempos["time"]) else 0
    for track in score.tracks:
        ticks, last = _pretty_midi_ends(track, last)
        if len(ticks):
            tracks.append((int(track.program), bool(track.is_drum), ticks))
    if last > limits.max_beats_per_file * division:
        raise MidiReadError(
            f"lasts over {limits.max_beats_per_file:,} beats ({last:,} ticks at {division} per beat): "
            "absurd tick values; the file is likely corrupt."
        )
    if sum(len(t) for _, _, t in tracks) > limits.max_notes_per_file:
        raise MidiReadError(f"over the limit of {limits.max_notes_per_file:,} notes per file.")
    notes = _kept_notes(tracks, cfg, division)
    if cfg.sustain_pedal:  # the pedal of any pitched track holds every note (see musegen.sources.pedal)
        events = [_pedal_events(t) for t in score.tracks if not t.is_drum]
        events = [e for e in events if len(e)]
        if events:
            pedal = np.concatenate(events)
            if pedal[:, 0].min() < 0:  # a tick past 2**31 wrapped around in symusic
                raise _SMFSays("a pedal event past 2**31 ticks")
            pedal[:, 0] /= division
            notes = make_notes(sustain(notes, pedal))
    if notes[:, 1].max() > limits.max_beats_per_file:
        raise MidiReadError(f"lasts over {limits.max_beats_per_file:,} beats; the file is likely corrupt.")
    tempo, tempo_map = _tempo_map(score, bodies, division)
    return notes, tempo, tempo_map


def _pedal_events(track: Any) -> np.ndarray:
    """(M, 2) [tick, value] of a track's controller-64 events, in file order."""
    controls = track.controls.numpy()
    pick = controls["number"] == 64
    return np.stack([controls["time"][pick], controls["value"][pick]], axis=1).astype(np.float64)


def _four_high_bytes(data: bytes) -> bool:
    """Whether four bytes with the high bit set follow each other after the header: in a track, a
    variable-length number of 5 bytes or more (the SMF decoder refuses it), or text such as UTF-8 (the SMF
    decoder then decodes the file: it costs a little)."""
    high = np.frombuffer(data, dtype=np.uint8, offset=14) >= 0x80
    return bool(len(high) >= 4 and (high[:-3] & high[1:-2] & high[2:-1] & high[3:]).any())


def _track_bodies(data: bytes) -> list[bytes]:
    """The bodies of the header's declared MTrk chunks, or _SMFSays where the chunks are broken."""
    pos, declared = 8 + int.from_bytes(data[4:8], "big"), int.from_bytes(data[10:12], "big")
    bodies: list[bytes] = []
    while len(bodies) < declared:
        if pos + 8 > len(data):
            raise _SMFSays("the file ends before its declared tracks")
        chunk, length = data[pos : pos + 4], int.from_bytes(data[pos + 4 : pos + 8], "big")
        if chunk == b"MTrk":
            body = data[pos + 8 : pos + 8 + length]
            if len(body) < length:
                raise _SMFSays("a truncated track")
            bodies.append(body)
        pos += 8 + length
    if not bodies:
        raise _SMFSays("no track chunk")
    return bodies


def _check_sysex(body: bytes) -> None:
    """_SMFSays where symusic would read a track's sysex events otherwise than the SMF decoder: an F7
    escape event (``F7 <length> <bytes>``, which symusic reads as a lone byte, and the bytes after as
    events) or a data byte right after a sysex event (the SMF decoder reads it under the channel status
    before the sysex; symusic does not). Only bytes F0 and F7 after a byte below 128, where a status can
    sit (after a delta time's last byte), are looked at; one inside other data may send a file to the
    SMF decoder for nothing, which costs time only. A file without such bytes costs one scan."""
    marks = np.frombuffer(body, dtype=np.uint8)
    at = np.flatnonzero(((marks[1:] == 0xF0) | (marks[1:] == 0xF7)) & (marks[:-1] < 0x80)) + 1
    if not len(at):
        return
    # not those inside a meta event's data (a tempo's bytes, text): FF, its kind, a one-byte length
    meta = np.flatnonzero((marks[1:-2] == 0xFF) & (marks[:-3] < 0x80) & (marks[2:-1] < 0x80) & (marks[3:] < 0x80))
    if len(meta):
        first = meta + 4  # the meta event's first data byte
        last = first + marks[meta + 3].astype(np.int64)  # one past its last
        k = np.searchsorted(first, at, side="right") - 1
        at = at[(k < 0) | (at >= last[np.maximum(k, 0)])]
    ends = set()  # the F7 that closes an F0 event's bytes
    for i in at.tolist():
        if body[i] == 0xF0:
            try:
                length, start = _varlen(body, i + 1, 0)
                _, after = _varlen(body, start + length, 0)  # the next event's delta time
            except (IndexError, SMFError):
                return  # a sysex or delta time past the track's end: the decoders' own reasons say why
            ends.add(start + length - 1)
            if after < len(body) and body[after] < 0x80:
                raise _SMFSays("a data byte right after a sysex event (running status)")
        elif i not in ends:
            raise _SMFSays("an F7 escape event (symusic reads it as one byte)")


def _clean_file(bodies: list[bytes], division: int) -> bytes:
    """A file of just the tracks the SMF decoder reads, with a plain 6-byte header."""
    fmt = 1 if len(bodies) > 1 else 0
    head = b"MThd" + (6).to_bytes(4, "big") + fmt.to_bytes(2, "big") + len(bodies).to_bytes(2, "big")
    chunks = (b"MTrk" + len(b).to_bytes(4, "big") + b for b in bodies)
    return b"".join([head, division.to_bytes(2, "big"), *chunks])


def _parse(data: bytes) -> Any:
    try:
        score = symusic.Score.from_midi(data)
    except MemoryError:
        raise  # the decoding worker's memory limit: its own reason
    except Exception as exc:  # symusic's reasons are C++ ones: the SMF decoder says it in words
        raise _SMFSays(f"symusic refused it ({type(exc).__name__}: {exc})") from exc
    tempos = score.tempos.numpy()
    if len(tempos["mspq"]) and (tempos["mspq"].min() <= 0 or tempos["time"].min() < 0):
        raise _SMFSays("a tempo of 0, or ticks past 2**31")
    return score


def _pretty_midi_ends(track: Any, last: int) -> tuple[np.ndarray, int]:
    """One symusic track's notes as pretty_midi pairs them: (N, 4) int64 ticks (start, end, pitch, velocity),
    and ``last`` raised to the track's last note-off.

    symusic ends the oldest sounding note of a key at each note-off; pretty_midi ends all of them (but one
    struck at the note-off's very tick), so a note ends at the first note-off of its key after its start.
    The note-offs of a key are the ends symusic gave (a note-off that ended nothing in symusic found
    nothing sounding in pretty_midi either). A zero-length note is one pretty_midi drops.
    """
    arrays = track.notes.numpy()
    start = arrays["time"].astype(np.int64)
    end = start + arrays["duration"].astype(np.int64)
    if not len(start):
        return np.zeros((0, 4), dtype=np.int64), last
    if start.min() < 0 or end.min() < 0:  # a tick past 2**31 wrapped around in symusic
        raise _SMFSays("ticks past 2**31")
    pitch = arrays["pitch"].astype(np.int64) & 0x7F
    offs = np.sort(pitch << _KEY | end)
    # A note-off that pretty_midi finds nothing sounding at (its symusic note had ended before, at an
    # earlier note-off of its key) but a note struck at its very tick: pretty_midi drops that note or
    # not by the order of the two in the file, which symusic's pairing does not keep
    struck = pitch << _KEY | start
    after = np.searchsorted(offs, struck, side="right")  # its key's first note-off after it (none: its own end)
    first_off = np.where(after < len(offs), offs[np.minimum(after, len(offs) - 1)] & ((1 << _KEY) - 1), end)
    spare = end > first_off
    if spare.any() and np.isin(struck, pitch[spare] << _KEY | end[spare]).any():
        raise _SMFSays("a key struck at the tick of a note-off that pretty_midi pairs by the file's order")
    keep = end > start  # a kept note's own end is a note-off after it, so first_off is found for it
    velocity = arrays["velocity"].astype(np.int64)
    return np.stack([start, first_off, pitch, velocity], axis=1)[keep], max(last, int(end.max()))


def _kept_notes(tracks: list[tuple[int, bool, np.ndarray]], cfg: DataConfig, division: int) -> np.ndarray:
    """The notes the instrument filter keeps, in beats, with the SMF decoder's reasons when none are."""
    if not tracks:
        raise MidiReadError("no notes (the file holds only tempo, meta or controller events).")
    pitched = [(program, ticks) for program, drum, ticks in tracks if not drum]
    if not pitched:
        raise MidiReadError("drums only; musegen learns pitched parts.")
    if cfg.instrument_filter == "piano":
        pitched = [(p, t) for p, t in pitched if p in PIANO_PROGRAMS]
    elif cfg.instrument_filter == "programs":
        pitched = [(p, t) for p, t in pitched if p in set(cfg.programs)]
    if not pitched:
        wanted = "piano programs" if cfg.instrument_filter == "piano" else f"programs {list(cfg.programs)}"
        raise MidiReadError(f"no notes left after the instrument filter ({wanted}); try 'all' instruments.")
    # Tracks in the file's order, as pretty_midi's instruments: make_notes' stable sort then keeps the order
    # of notes of one start and pitch, and what keeps the first of them (the timed tokens) keeps the same.
    raw = np.concatenate([t for _, t in pitched]).astype(np.float64)
    raw[:, :2] /= division
    return make_notes(raw)


def _tempo_map(score: Any, bodies: list[bytes], division: int) -> tuple[float, np.ndarray]:
    """pretty_midi's tempos: those of the first track (the first tempo, the last at its tick 0, else 120 BPM),
    as (first tempo in BPM, (K, 2) [beat, BPM] map of :func:`~musegen.sources.smf_decode.tempo_rows`)."""
    if _ODD_TEMPO.search(bodies[0]):  # symusic reads a tempo of another length than 3 bytes past its end
        raise _SMFSays("a tempo event of another length than 3 bytes")
    tempos = score.tempos if len(bodies) == 1 else _parse(_clean_file(bodies[:1], division)).tempos
    arrays = tempos.numpy()
    ticks, mspq = arrays["time"].astype(np.int64), arrays["mspq"].astype(np.float64)
    order = np.argsort(ticks, kind="stable")
    ticks, mspq = ticks[order], mspq[order]
    at_zero = ticks == 0
    first = 500_000.0  # 120 BPM
    if at_zero.any():
        first = mspq[at_zero][-1]
        if len(np.unique(mspq[at_zero])) > 1:  # symusic's order of tempos of one tick is not the file's
            first = float(_last_tempo_at_zero(bodies[0]))
    later_ticks, later = ticks[~at_zero], mspq[~at_zero]
    same_tick = later_ticks[1:] == later_ticks[:-1]
    if (same_tick & (later[1:] != later[:-1])).any():
        raise _SMFSays("two tempos at one tick (symusic's order of them is not the file's)")
    if len(later) + 1 > MAX_TEMPO_ROWS:
        raise _SMFSays("too many tempo changes: the SMF decoder's limits say which")
    resolution = float(division)  # the very float operations of pretty_midi's get_tempo_changes
    mspq = np.concatenate([[first], later])
    bpm = 60.0 / ((60.0 / ((6e7 / mspq) * resolution)) * resolution)
    beats = np.concatenate([[0], later_ticks]) / division
    return float(bpm[0]), tempo_rows(beats, bpm)


def _last_tempo_at_zero(body: bytes) -> int:
    """The value of the last tempo event before the first non-zero delta time of a track (well formed:
    symusic read it)."""
    i, status, found = 0, 0, 500_000
    while i < len(body):
        delta = 0
        while body[i] & 0x80:
            delta, i = delta << 7 | body[i] & 0x7F, i + 1
        delta, i = delta << 7 | body[i], i + 1
        if delta:
            break
        byte = body[i]
        if byte in (0xFF, 0xF0, 0xF7):
            kind = body[i + 1] if byte == 0xFF else None
            i += 2 if byte == 0xFF else 1
            length = 0
            while body[i] & 0x80:
                length, i = length << 7 | body[i] & 0x7F, i + 1
            length, i = length << 7 | body[i], i + 1
            if kind == 0x51 and length == 3:
                found = int.from_bytes(body[i : i + 3], "big")
            elif kind == 0x2F:
                break
            i += length
            continue
        if byte & 0x80:
            status, i = byte, i + 1
        i += 1 if status & 0xF0 in (0xC0, 0xD0) else 2
    return found
