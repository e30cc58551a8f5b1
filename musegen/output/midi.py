"""Note events to a valid Standard MIDI File with pretty_midi.

Whatever a model emits, the result is a playable file: notes are repaired on a grid of
MIDI ticks before writing (see :func:`sanitize_notes`). Times in a :class:`Piece` are in
beats; the tempo turns them into seconds: one constant tempo, or a tempo map (a seed's tempo
changes, :meth:`musegen.generation.compose.Composition.tempo_map`) written as the file's tempo
changes, the notes' seconds following it (so audio rendered from the PrettyMIDI follows it too).

A seed, when given and included, goes on its own instrument track named ``"seed"`` (same
General MIDI program, so it sounds the same) and the continuation follows it, shifted by
the seed's length. A separate track lets a UI colour the seed and a DAW mute it.
"""

from __future__ import annotations

import io
import os
from numbers import Real
from pathlib import Path

import numpy as np
import pretty_midi

from musegen.config import TEMPO_RANGE, clamp_tempo  # BPM accepted for writing
from musegen.errors import ConfigError
from musegen.fileio import atomic_write_bytes
from musegen.notes import END, PITCH, START, VELOCITY, Piece, as_tempo_map

RESOLUTION = 480  # ticks per quarter note: 1/32 beat = 15 ticks, triplets exact
MIN_TICKS = RESOLUTION // 32  # shortest note written: a 128th note
MAX_BEATS = 15_000.0  # notes starting later are dropped (pretty_midi refuses files past 1e7 ticks)


def sanitize_notes(notes: np.ndarray, resolution: int = RESOLUTION) -> tuple[np.ndarray, dict[str, int]]:
    """Repair note rows so that they can be written as MIDI; return (ticks, report).

    ``ticks`` is an int64 (N, 4) array [start_tick, end_tick, pitch, velocity], sorted.
    Repairs, counted in ``report``: rows with NaN/inf or starting past ``MAX_BEATS`` are
    dropped (``dropped_invalid``); pitches outside 0-127 are dropped (``dropped_pitch``);
    negative starts are moved to 0; notes shorter than a 128th (zero or negative duration)
    are lengthened (``lengthened``); velocities are clipped to 1-127; notes of the same
    pitch that start on the same tick are merged (``merged``) and an earlier note that
    overlaps a later one of the same pitch is cut where the later one starts (``truncated``),
    because MIDI cannot hold two sounding notes of one pitch on one channel.
    """
    arr = np.asarray(notes, dtype=np.float64).reshape(-1, 4)
    report = {"dropped_invalid": 0, "dropped_pitch": 0, "lengthened": 0, "merged": 0, "truncated": 0}
    finite = np.isfinite(arr).all(axis=1) & (arr[:, START] <= MAX_BEATS)
    report["dropped_invalid"] = int((~finite).sum())
    arr = arr[finite]
    pitch = np.round(arr[:, PITCH])
    in_range = (pitch >= 0) & (pitch <= 127)
    report["dropped_pitch"] = int((~in_range).sum())
    arr, pitch = arr[in_range], pitch[in_range]

    start = np.round(np.maximum(arr[:, START], 0.0) * resolution).astype(np.int64)
    end = np.round(np.minimum(arr[:, END], MAX_BEATS + 64) * resolution).astype(np.int64)
    short = end - start < MIN_TICKS
    report["lengthened"] = int(short.sum())
    end = np.where(short, start + MIN_TICKS, end)
    vel = np.clip(np.round(arr[:, VELOCITY]), 1, 127).astype(np.int64)
    ticks = np.stack([start, end, pitch.astype(np.int64), vel], axis=1)
    if not len(ticks):
        return ticks.reshape(0, 4), report

    # Per pitch, in onset order: merge equal onsets (keep the longest), cut overlaps.
    ticks = ticks[np.lexsort((-ticks[:, 1], ticks[:, 0], ticks[:, 2]))]
    same_pitch = ticks[1:, 2] == ticks[:-1, 2]
    dup = np.concatenate([[False], same_pitch & (ticks[1:, 0] == ticks[:-1, 0])])
    report["merged"] = int(dup.sum())
    ticks = ticks[~dup]
    nxt_same = np.concatenate([ticks[1:, 2] == ticks[:-1, 2], [False]])
    nxt_start = np.concatenate([ticks[1:, 0], [0]])
    overlap = nxt_same & (ticks[:, 1] > nxt_start)
    report["truncated"] = int(overlap.sum())
    ticks[overlap, 1] = nxt_start[overlap]
    return ticks[np.lexsort((ticks[:, 2], ticks[:, 0]))], report


def check_settings(tempo: float, program: int, velocity: int | None = None) -> None:
    """Raise ConfigError unless tempo, General MIDI program and velocity can be written (check early)."""
    _validate(tempo, program, velocity)


def _validate(tempo: float, program: int, velocity: int | None) -> None:
    if isinstance(tempo, bool) or not (isinstance(tempo, Real) and TEMPO_RANGE[0] <= tempo <= TEMPO_RANGE[1]):
        raise ConfigError(f"tempo must be between {TEMPO_RANGE[0]:g} and {TEMPO_RANGE[1]:g} BPM, got {tempo!r}.")
    if not (isinstance(program, int | np.integer) and 0 <= program <= 127):
        raise ConfigError(f"program must be a General MIDI program 0-127 (0 = Acoustic Grand Piano), got {program!r}.")
    if velocity is not None and not (isinstance(velocity, int | np.integer) and 1 <= velocity <= 127):
        raise ConfigError(f"velocity must be 1-127 or None (keep each note's own), got {velocity!r}.")


def tick_scales(tempo: float, tempo_map: np.ndarray | None = None) -> list[tuple[int, float]]:
    """pretty_midi's tempo changes, ``[(tick, seconds per tick)]`` from tick 0: ``tempo`` alone, or
    ``tempo_map`` ((K, 2) [beat, BPM]) on the tick grid, its tempos clamped to :data:`TEMPO_RANGE`
    (of several on one tick the last holds; a repeated tempo is not written again)."""
    if tempo_map is None:
        return [(0, 60.0 / (float(tempo) * RESOLUTION))]
    tm = as_tempo_map(tempo_map, tempo)
    ticks = np.round(np.minimum(tm[:, 0], MAX_BEATS) * RESOLUTION).astype(np.int64).tolist()
    scales: list[tuple[int, float]] = []
    for tick, bpm in zip(ticks, tm[:, 1].tolist(), strict=True):
        scale = 60.0 / (clamp_tempo(bpm) * RESOLUTION)
        if scales and tick == scales[-1][0]:
            scales.pop()
        if not scales or scale != scales[-1][1]:
            scales.append((tick, scale))
    return scales


def _seconds(ticks: np.ndarray, scales: list[tuple[int, float]]) -> np.ndarray:
    """Ticks to seconds through ``scales``, as pretty_midi computes them (a tick on a change exact)."""
    starts = np.array([t for t, _ in scales], dtype=np.int64)
    rates = np.array([r for _, r in scales], dtype=np.float64)
    at = np.concatenate([[0.0], np.cumsum(np.diff(starts) * rates[:-1])])
    i = np.searchsorted(starts, ticks, side="right") - 1
    return at[i] + (ticks - starts[i]) * rates[i]


def _instrument(ticks: np.ndarray, name: str, program: int, velocity: int | None, scales: list[tuple[int, float]]):
    inst = pretty_midi.Instrument(program=int(program), name=name)
    starts, ends = _seconds(ticks[:, 0], scales).tolist(), _seconds(ticks[:, 1], scales).tolist()
    for start, end, (_, _, pitch, vel) in zip(starts, ends, ticks.tolist(), strict=True):
        inst.notes.append(
            pretty_midi.Note(
                velocity=int(velocity if velocity is not None else vel), pitch=int(pitch), start=start, end=end
            )
        )
    return inst


def piece_to_midi(
    piece: Piece,
    *,
    tempo: float = 120.0,
    program: int = 0,
    velocity: int | None = None,
    seed_piece: Piece | None = None,
    include_seed: bool = True,
    seed_offset: float | None = None,
    tempo_map: np.ndarray | None = None,
) -> pretty_midi.PrettyMIDI:
    """A PrettyMIDI of ``piece`` at ``tempo`` BPM with General MIDI ``program``.

    ``tempo_map`` ((K, 2) [beat, BPM], beats of the file: the seed's from 0), when given, is written
    instead of the one tempo (see :func:`tick_scales`) and the notes' seconds follow it.

    ``velocity`` overrides every note's velocity when given. With ``seed_piece`` and
    ``include_seed``, the seed is written first on a track named ``"seed"`` and the piece
    (the continuation, its times counted from 0) is shifted by ``seed_offset`` beats
    (default: where the seed's last note ends). Always valid, even with no notes; see
    :func:`sanitize_notes` for the repairs.
    """
    _validate(tempo, program, velocity)
    scales = tick_scales(tempo, tempo_map)
    initial = float(tempo) if tempo_map is None else 60.0 / (scales[0][1] * RESOLUTION)
    pm = pretty_midi.PrettyMIDI(resolution=RESOLUTION, initial_tempo=initial)
    if tempo_map is not None:  # pretty_midi has no public way to add tempo changes: its own _tick_scales, as it reads
        pm._tick_scales = scales
        pm._update_tick_to_time(scales[-1][0] + 1)
    offset_ticks = 0
    if seed_piece is not None and include_seed:
        seed_ticks, _ = sanitize_notes(seed_piece.notes)
        if len(seed_ticks):
            pm.instruments.append(_instrument(seed_ticks, "seed", program, velocity, scales))
            offset_ticks = int(seed_ticks[:, 1].max())
        if seed_offset is not None:
            offset_ticks = round(min(max(float(seed_offset), 0.0), MAX_BEATS) * RESOLUTION)
    ticks, _ = sanitize_notes(piece.notes)
    ticks[:, :2] += offset_ticks
    pm.instruments.append(_instrument(ticks, piece.name or "generated", program, velocity, scales))
    return pm


def midi_bytes(pm: pretty_midi.PrettyMIDI) -> bytes:
    """The Standard MIDI File bytes of ``pm`` (for downloads)."""
    buf = io.BytesIO()
    pm.write(buf)
    return buf.getvalue()


def write_midi(pm: pretty_midi.PrettyMIDI, path: str | os.PathLike) -> Path:
    """Write ``pm`` to ``path`` atomically (temporary file + rename); return the path."""
    path = Path(path)
    data = midi_bytes(pm)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, data)
    return path


def notes_midi(
    notes: np.ndarray, tempo: float, program: int = 0, seed_notes: np.ndarray | None = None, seed_end: float = 0.0
) -> bytes:
    """The MIDI file of ``notes`` at ``tempo`` (a seed's notes first, on their own track, when given)."""
    seed = Piece("seed", seed_notes) if seed_notes is not None else None
    pm = piece_to_midi(Piece("music", notes), tempo=tempo, program=program, seed_piece=seed, seed_offset=seed_end)
    return midi_bytes(pm)
