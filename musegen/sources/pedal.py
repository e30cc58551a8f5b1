"""The sustain pedal (controller 64): notes sound on while it is down, as a listener hears them.

A note whose key is let go while the pedal is down keeps sounding until the pedal comes up, but
no longer than until the same key is struck again (the new strike cuts it), as MidiTok and the
pretty_midi-based pipelines do. A pedal that never comes up holds to the end of the piece: the
file's last note or pedal event, whichever is later. One function serves both decoders, so they keep
giving the same notes.

The pedal applies to every pitched note of the file, whichever track holds its events: a synthesizer applies a
channel's pedal to all of that channel's notes, and piano files write the two hands on separate tracks of one
channel with the pedal in one of them (piano-midi.de's files put it on the left hand's track), so a per-track
pedal would leave the other hand dry. The pedal events are those of the parts (a track's channel with a note
struck on it, as symusic keeps them); a pedal on a channel or in a track that strikes no note is a stray
controller, and is ignored.
"""

from __future__ import annotations

import numpy as np

from musegen.notes import END, PITCH, START

DOWN = 64  # controller values of 64 and above hold the pedal down
EPS = 1e-9  # beats: a note-off at the pedal's very tick counts as inside (decoders' float times differ by less)


def pedal_intervals(events: np.ndarray, end_of_piece: float) -> np.ndarray:
    """(K, 2) [down, up] beats of the pedal held, from (M, 2) [beat, controller value] events in file order.

    Repeated downs (or ups) in a row change nothing; a pedal still down at the end is up at ``end_of_piece``.
    """
    ev = np.asarray(events, dtype=np.float64).reshape(-1, 2)
    if not len(ev):
        return np.zeros((0, 2))
    ev = ev[np.argsort(ev[:, 0], kind="stable")]
    down = ev[:, 1] >= DOWN
    change = np.concatenate([[down[0]], down[1:] != down[:-1]])  # the first event counts only when it presses
    times, states = ev[change, 0], down[change]
    starts = times[states]
    ups = times[~states]
    ups = ups[ups >= (starts[0] if len(starts) else np.inf)]
    k = len(starts)
    ends = np.full(k, max(float(end_of_piece), float(starts[-1]) if k else 0.0))
    ends[: min(k, len(ups))] = ups[:k]
    return np.stack([starts, np.maximum(ends, starts)], axis=1) if k else np.zeros((0, 2))


def sustain(notes: np.ndarray, events: np.ndarray) -> np.ndarray:
    """``notes`` ((N, 4) [start, end, pitch, velocity] beats, any order) held by the pedal ``events``
    ((M, 2) [beat, value] of controller 64): a note whose end falls while the pedal is down ends when it
    comes up (a pedal that never does: the last note's end or pedal event, whichever is later), or at the
    next onset of its key if that comes first (never earlier than it ended). Linear
    after sorting: one binary search per note. Returns a new array in the same order."""
    out = np.array(notes, dtype=np.float64, copy=True).reshape(-1, 4)
    if not len(out) or not len(events):
        return out
    ev = np.asarray(events, dtype=np.float64).reshape(-1, 2)
    held = pedal_intervals(ev, max(float(out[:, END].max()), float(ev[:, 0].max())))  # a pedal never up: the end
    if not len(held):
        return out
    end = out[:, END]
    i = np.searchsorted(held[:, 0], end + EPS, side="right") - 1
    inside = (i >= 0) & (end < held[np.maximum(i, 0), 1] - EPS)
    if not inside.any():
        return out
    order = np.lexsort((out[:, START], out[:, PITCH]))  # by key, then onset
    nxt = np.full(len(out), np.inf)
    same = out[order[1:], PITCH] == out[order[:-1], PITCH]
    nxt[order[:-1][same]] = out[order[1:][same], START]
    up = held[np.maximum(i, 0), 1]
    out[inside, END] = np.maximum(end[inside], np.minimum(up[inside], nxt[inside]))
    return out
