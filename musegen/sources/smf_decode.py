"""musegen's own decoder: the header checks, the streaming SMF read with its limits, pretty_midi, the filter.

One of the two decoders :func:`musegen.sources.decode.decode_notes` chooses between (``smf``), and the
reference of the other (:mod:`musegen.sources.symusic_decode`, which gives its notes and its reasons, and
hands it the files it would read differently). :func:`parse_midi` is also what the commands that need a
whole ``PrettyMIDI`` run. Reasons raised here carry no file name; the callers add it.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from musegen.config import DataConfig, Limits
from musegen.errors import MidiReadError
from musegen.notes import make_notes
from musegen.sources.pedal import sustain
from musegen.sources.smf import SMFError, TooLong, TooManyEvents, TooManyNotes, read_smf

PIANO_PROGRAMS = tuple(range(8))  # General MIDI 1-8: the pianos (the tutorial read only piano parts)
MAX_TEMPO_ROWS = 100_000  # tempo changes one file may hold (a performance writes one every beat or so)
_MB = 1024 * 1024


def check_header(data: bytes, limits: Limits) -> None:
    """Refuse what is not a usable Standard MIDI File before decoding it (MidiReadError says why)."""
    if not data:
        raise MidiReadError("empty file (0 bytes).")
    if len(data) > limits.max_file_mb * _MB:
        raise MidiReadError(f"{len(data) / _MB:.1f} MB, over the size limit of {limits.max_file_mb} MB.")
    if data[:4] != b"MThd":
        raise MidiReadError(f"not a MIDI file ({sniff(data)}); a MIDI file starts with 'MThd'.")
    if len(data) < 14:
        raise MidiReadError("truncated MIDI header.")
    fmt = int.from_bytes(data[8:10], "big")
    division = int.from_bytes(data[12:14], "big")
    if fmt == 2:
        raise MidiReadError("type-2 MIDI (independent sequences) is not supported; save it as type 0 or 1.")
    if fmt > 2:
        raise MidiReadError(f"unknown MIDI format {fmt}; the file is likely corrupt.")
    if division == 0:
        raise MidiReadError("zero ticks per beat in the header; the file is corrupt.")
    if division & 0x8000:
        raise MidiReadError("SMPTE time division is not supported; save it with ticks per beat.")


def sniff(data: bytes) -> str:
    """What some bytes that are not MIDI look like, in words."""
    head = data[:512].lstrip().lower()
    if data[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "it is a zip archive"
    if head.startswith((b"<!doctype html", b"<html")) or b"<html" in head:
        return "it is an HTML page"
    if head.startswith((b"riff", b"id3", b"flac", b"oggs")):
        return "it is an audio file"
    try:
        data[:512].decode("utf-8")
        return "it is a text file"
    except UnicodeDecodeError:
        return "unrecognised binary data"


def parse_midi(data: bytes, limits: Limits) -> Any:
    """MIDI bytes to a ``pretty_midi.PrettyMIDI`` with every instrument, within ``limits``."""
    import pretty_midi

    check_header(data, limits)
    midi = scan_smf(data, limits)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pm = pretty_midi.PrettyMIDI(mido_object=midi)
            pm.pedal_beats = midi.pedal_beats  # (M, 2) [beat, value] of controller 64 (musegen.sources.pedal)
            return pm
    except ValueError as exc:
        if "largest tick" in str(exc):
            raise MidiReadError(f"absurd tick values ({exc}); the file is corrupt.") from exc
        raise MidiReadError(f"corrupt MIDI ({exc}).") from exc
    except (IndexError, KeyError, ZeroDivisionError, OverflowError, MemoryError) as exc:
        raise MidiReadError(f"corrupt MIDI ({type(exc).__name__}: {exc}).") from exc


def scan_smf(data: bytes, limits: Limits) -> Any:
    """The SMF decoder's streaming read (a ``mido.MidiFile`` for pretty_midi); MidiReadError says why not.

    It stops as soon as the note or event limit is passed, so a huge or hostile file costs no more than
    the limits."""
    try:
        return read_smf(data, limits.max_notes_per_file, limits.max_events_per_file, limits.max_beats_per_file)
    except TooManyNotes as exc:
        raise MidiReadError(f"over the limit of {limits.max_notes_per_file:,} notes per file.") from exc
    except TooManyEvents as exc:
        raise MidiReadError(
            f"over the limit of {limits.max_events_per_file:,} events per file (every MIDI event counts)."
        ) from exc
    except TooLong as exc:
        raise MidiReadError(f"{exc}: absurd tick values; the file is likely corrupt.") from exc
    except SMFError as exc:
        raise MidiReadError(f"corrupt or truncated MIDI ({exc}).") from exc


def decode_smf(data: bytes, cfg: DataConfig, limits: Limits) -> tuple[np.ndarray, float, np.ndarray]:
    """:func:`decode_notes` with musegen's own SMF decoder and pretty_midi."""
    notes, tempo, tempo_map = _collect_notes(parse_midi(data, limits), cfg)
    if len(notes) > limits.max_notes_per_file:
        raise MidiReadError(f"{len(notes):,} notes, over the limit of {limits.max_notes_per_file:,} per file.")
    if notes[:, 1].max() > limits.max_beats_per_file:
        raise MidiReadError(f"lasts over {limits.max_beats_per_file:,} beats; the file is likely corrupt.")
    return notes, tempo, tempo_map


def tempo_rows(beats: np.ndarray, bpm: np.ndarray) -> np.ndarray:
    """A decoder's tempo changes (first track, file order, the first at beat 0) as the (K, 2) [beat, BPM]
    map both decoders return: of several changes at one beat the last holds, and a change to the tempo
    already in force is no change. MidiReadError past MAX_TEMPO_ROWS rows."""
    tm = np.stack([np.asarray(beats, np.float64), np.asarray(bpm, np.float64)], axis=1).reshape(-1, 2)
    if not len(tm):
        return np.array([[0.0, 120.0]])
    last_at_beat = np.append(tm[1:, 0] != tm[:-1, 0], True)
    tm = tm[last_at_beat]
    changed = np.insert(tm[1:, 1] != tm[:-1, 1], 0, True)
    tm = tm[changed]
    if len(tm) > MAX_TEMPO_ROWS:
        raise MidiReadError(f"{len(tm):,} tempo changes, over the limit of {MAX_TEMPO_ROWS:,} per file.")
    return tm


def _keep(inst: Any, cfg: DataConfig) -> bool:
    if inst.is_drum:
        return False
    if cfg.instrument_filter == "piano":
        return inst.program in PIANO_PROGRAMS
    if cfg.instrument_filter == "programs":
        return inst.program in set(cfg.programs)
    return True


def _collect_notes(pm: Any, cfg: DataConfig) -> tuple[np.ndarray, float, np.ndarray]:
    pitched = [i for i in pm.instruments if i.notes and not i.is_drum]
    if not any(i.notes for i in pm.instruments):
        raise MidiReadError("no notes (the file holds only tempo, meta or controller events).")
    if not pitched:
        raise MidiReadError("drums only; musegen learns pitched parts.")
    kept = [i for i in pitched if _keep(i, cfg)]
    if not kept:
        wanted = "piano programs" if cfg.instrument_filter == "piano" else f"programs {list(cfg.programs)}"
        raise MidiReadError(f"no notes left after the instrument filter ({wanted}); try 'all' instruments.")
    raw = np.array([(n.start, n.end, n.pitch, n.velocity) for i in kept for n in i.notes], dtype=np.float64)
    times, tempi = pm.get_tempo_changes()
    raw[:, 0] = _seconds_to_beats(raw[:, 0], times, tempi)
    raw[:, 1] = np.maximum(_seconds_to_beats(raw[:, 1], times, tempi), raw[:, 0])
    pedal = getattr(pm, "pedal_beats", None)
    if cfg.sustain_pedal and pedal is not None and len(pedal):  # the pedal of any pitched part holds every note
        raw = sustain(raw, pedal)
    tempo = float(tempi[0]) if len(tempi) else 120.0
    tempo_map = tempo_rows(_seconds_to_beats(np.asarray(times, np.float64), times, tempi), tempi)
    return make_notes(raw), tempo, tempo_map


def _seconds_to_beats(t: np.ndarray, times: np.ndarray, tempi: np.ndarray) -> np.ndarray:
    """Piecewise-linear time -> beats through the tempo map (exact for MIDI tempo maps)."""
    if not len(times):
        return t * 2.0  # 120 BPM
    times = np.asarray(times, dtype=np.float64)
    rates = np.asarray(tempi, dtype=np.float64) / 60.0  # beats per second
    beats_at = np.concatenate([[0.0], np.cumsum(np.diff(times) * rates[:-1])])
    j = np.clip(np.searchsorted(times, t, side="right") - 1, 0, len(times) - 1)
    return beats_at[j] + (t - times[j]) * rates[j]
