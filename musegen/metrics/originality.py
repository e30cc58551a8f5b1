"""Originality: the longest passage of a generated piece that also occurs in the training pieces.

A model that learns from few pieces may hand back what it read. For each generated piece this
module finds the longest passage, counted in notes and in any transposition, that also occurs in
one of the training pieces, says where (the training piece's name, the note and beat where it
starts there) and flags it when it is longer than two bars.

**What counts as the same passage.** A piece is read as its notes in (onset, pitch) order, onsets
on a grid of 1/12 beat (``GRID``). Every note after the first becomes one symbol: the pitch
interval to the note before it in that order, and the onset step to it in grid ticks (capped at
``max_delta_beats``, 8 beats). A passage of ``L`` notes is ``L - 1`` consecutive symbols, so two
passages match when every note's pitch moves by the same interval and every onset by the same
step: the same notes in another key and at another time, whatever their durations and velocities
(which are not compared). Chords count note by note, low to high.

**How long a passage is.** :attr:`Copy.notes` counts notes; :attr:`Copy.beats` is the span of
the passage's onsets in the generated piece, from the first note's onset to the last note's onset:
the stretch of time in which every onset and interval is copied (a held last note does not make a
copy longer, since durations are not compared). The copy is :attr:`Copy.flagged` when ``beats``
exceeds ``bars * beats_per_bar`` (2 bars of 4/4 = 8 beats by default): the copied onsets reach past
two bars' length.

**How it is found.** :class:`OriginalityIndex` keeps every training piece's symbols in one int64
array with piece offsets, and 64-bit polynomial prefix hashes of them (numpy ``uint64``, wrapping
modulo 2**64, with a random odd base and its inverse so that any window's hash is two lookups and
two multiplications): memory is linear in the training notes (about 40 bytes a note) and nothing
is kept per n-gram. :meth:`OriginalityIndex.longest_copy` binary-searches the passage length: at a
length ``L`` it hashes every training window of ``L`` symbols that lies inside one piece, looks each
up among the sorted hashes of the generated piece's windows (``np.searchsorted``), and checks a hit
symbol by symbol, so a hash collision never makes a copy (polynomial hashes modulo 2**64 do
collide on Thue-Morse strings, whatever the base; the tests build one). The search costs
``O(T log n)`` for ``T`` training notes and ``n`` generated notes: about a second for a million
training notes (``benchmarks/bench_originality.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from musegen.notes import PITCH, START, Piece

__all__ = [
    "GRID",
    "Copy",
    "OriginalityIndex",
    "copy_rate",
    "passage_symbols",
]

GRID = 12  # onset ticks per beat: sixteenths and triplets both fall on it
MAX_DELTA_BEATS = 8.0  # onset steps longer than this are all the same step
_CHUNK = 1 << 20  # symbols compared at once when a hash match is checked


@dataclass(frozen=True)
class Copy:
    """The longest passage of a generated piece that also occurs in a training piece.

    ``notes`` is 0 when the piece or the index has no notes and 1 when they share no two-note
    passage (any single note occurs somewhere, transposed); the location fields are then ``None``.
    Positions are in the generated piece's own beats (a continuation counts from its own start)
    and in notes of the (onset, pitch) order (``*_start_note``, 0-based).
    """

    notes: int  # passage length in notes
    beats: float  # span of its onsets in the generated piece: last onset - first onset
    generated_start_beats: float | None  # onset of its first note in the generated piece
    training_piece: str | None  # name of the training piece it also occurs in
    training_start_beats: float | None  # onset of its first note there
    transposition: int | None  # semitones from the training piece to the generated one
    flagged: bool  # beats > limit_beats: longer than two bars
    generated_start_note: int | None = None
    training_start_note: int | None = None
    limit_beats: float = 8.0  # bars * beats_per_bar the flag is measured against

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values."""
        return asdict(self)

    def describe(self, where: str = "the training data") -> str:
        """One line for people, e.g. "longest passage also in the training data: 14 notes (5.5 beats)
        at beat 3 from 'bwv253' at beat 12, transposed +2 — longer than two bars" (``where``: what the
        index holds)."""
        if self.notes <= 1 or self.training_piece is None:
            return f"no passage of two or more notes also occurs in {where}"
        shift = "not transposed" if not self.transposition else f"transposed {self.transposition:+d}"
        line = (
            f"longest passage also in {where}: {self.notes} notes ({_num(self.beats)} "
            f"beat{'' if self.beats == 1 else 's'}) "
            f"at beat {_num(self.generated_start_beats or 0.0)} from '{self.training_piece}' "
            f"at beat {_num(self.training_start_beats or 0.0)}, {shift}"
        )
        return line + (f" — longer than {_bars(self.limit_beats)}" if self.flagged else "")


def _num(x: float) -> str:
    return f"{x:.2f}".rstrip("0").rstrip(".")


def _bars(limit_beats: float) -> str:
    if limit_beats == 8.0:
        return "two bars"
    return f"{_num(limit_beats)} beats"


def _nothing(notes: int, limit_beats: float) -> Copy:
    return Copy(notes, 0.0, None, None, None, None, False, limit_beats=limit_beats)


def passage_symbols(
    piece: Piece, grid: int = GRID, max_delta_beats: float = MAX_DELTA_BEATS
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(symbols, onsets, pitches) of a piece: one int64 symbol per note after the first.

    Notes are taken in (onset on the grid, pitch) order; ``onsets`` (beats, as in the piece) and
    ``pitches`` are the notes in that order, ``symbols[i]`` codes the step from note ``i`` to note
    ``i + 1``: ``(interval + 127) * (max_ticks + 1) + ticks``, interval in -127..127 and onset step
    ``ticks`` in 0..max_ticks grid ticks.
    """
    notes = np.asarray(piece.notes, dtype=np.float64).reshape(-1, 4)
    if not len(notes):
        return np.zeros(0, np.int64), np.zeros(0, np.float64), np.zeros(0, np.int64)
    ticks = np.rint(notes[:, START] * grid).astype(np.int64)
    pitches = np.rint(notes[:, PITCH]).astype(np.int64)
    order = np.lexsort((pitches, ticks))
    ticks, pitches, onsets = ticks[order], pitches[order], notes[order, START]
    max_ticks = max(1, round(max_delta_beats * grid))
    steps = np.clip(np.diff(ticks), 0, max_ticks)
    intervals = np.clip(np.diff(pitches), -127, 127)
    return (intervals + 127) * (max_ticks + 1) + steps, onsets, pitches


def _powers(base: int, n: int) -> np.ndarray:
    """base**0 .. base**(n-1) modulo 2**64 as uint64 (array products wrap)."""
    out = np.empty(n, np.uint64)
    if n:
        out[0] = 1
    filled = 1
    while filled < n:
        step = min(filled, n - filled)
        out[filled : filled + step] = out[:step] * np.uint64(pow(base, filled, 1 << 64))
        filled += step
    return out


def _prefix(symbols: np.ndarray, powers: np.ndarray) -> np.ndarray:
    """F[i] = sum_{j<i} (symbols[j] + 1) * base**j modulo 2**64, length len(symbols) + 1."""
    out = np.zeros(len(symbols) + 1, np.uint64)
    np.cumsum((symbols.astype(np.uint64) + np.uint64(1)) * powers[: len(symbols)], out=out[1:])
    return out


class _Hasher:
    """Window hashes: hash(s[i:i+L]) = sum_k (s[i+k] + 1) * base**k modulo 2**64."""

    def __init__(self, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.base = int(rng.integers(1 << 62, 1 << 63, dtype=np.int64)) * 2 + 1  # odd: invertible modulo 2**64
        self.inverse = pow(self.base, -1, 1 << 64)

    def prepare(self, symbols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(prefix hashes, inverse powers) of one symbol array."""
        return _prefix(symbols, _powers(self.base, len(symbols))), _powers(self.inverse, len(symbols))

    @staticmethod
    def windows(prefix: np.ndarray, inverse: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
        return (prefix[starts + length] - prefix[starts]) * inverse[starts]


class OriginalityIndex:
    """All training pieces' passage symbols, to find the longest passage a piece shares with them.

    Build it once per training set with :meth:`from_pieces`; :meth:`longest_copy` then answers for
    one generated piece. Memory is about 40 bytes a training note (:attr:`nbytes`).
    """

    def __init__(
        self,
        names: list[str],
        note_offsets: np.ndarray,
        onsets: np.ndarray,
        pitches: np.ndarray,
        symbols: np.ndarray,
        *,
        grid: int = GRID,
        max_delta_beats: float = MAX_DELTA_BEATS,
        hash_seed: int = 0,
    ):
        self.names = names
        self.note_offsets = note_offsets  # piece p's notes are note_offsets[p]:note_offsets[p+1]
        self.onsets = onsets  # float64, (onset, pitch) order within each piece
        self.pitches = pitches  # int16
        self.symbols = symbols  # int64; piece p's are sym_offsets[p]:sym_offsets[p+1]
        self.sym_offsets = note_offsets - np.arange(len(note_offsets))  # every stored piece has >= 1 note
        self.grid = grid
        self.max_delta_beats = max_delta_beats
        self._hasher = _Hasher(hash_seed)
        self._prefix, self._inverse = self._hasher.prepare(symbols)
        lengths = np.diff(self.sym_offsets)
        piece_end = np.repeat(self.sym_offsets[1:], lengths)
        self._room = (piece_end - np.arange(len(symbols))).astype(np.int32)  # symbols left in the piece
        self._longest = int(lengths.max()) if len(lengths) else 0

    @classmethod
    def from_pieces(
        cls,
        pieces: Sequence[Piece],
        *,
        grid: int = GRID,
        max_delta_beats: float = MAX_DELTA_BEATS,
        dedupe: bool = True,
        hash_seed: int = 0,
    ) -> OriginalityIndex:
        """The index of ``pieces`` (named by ``piece.name``). Pieces without notes are left out; with
        ``dedupe`` so are pieces whose symbols equal an earlier piece's (a transposed copy such as
        "bwv253 (+2)": the first one's name is reported)."""
        names: list[str] = []
        counts: list[int] = []
        onsets: list[np.ndarray] = []
        pitches: list[np.ndarray] = []
        symbols: list[np.ndarray] = []
        seen: set[bytes] = set()
        for piece in pieces:
            syms, ons, pits = passage_symbols(piece, grid, max_delta_beats)
            if not len(ons):
                continue
            if dedupe:
                key = syms.tobytes()
                if key in seen:
                    continue
                seen.add(key)
            names.append(piece.name)
            counts.append(len(ons))
            onsets.append(ons)
            pitches.append(pits.astype(np.int16))
            symbols.append(syms)
        offsets = np.zeros(len(counts) + 1, np.int64)
        np.cumsum(counts, out=offsets[1:])

        def joined(parts: list[np.ndarray], dtype: Any) -> np.ndarray:
            return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype)

        return cls(
            names,
            offsets,
            joined(onsets, np.float64),
            joined(pitches, np.int16),
            joined(symbols, np.int64),
            grid=grid,
            max_delta_beats=max_delta_beats,
            hash_seed=hash_seed,
        )

    # ------------------------------------------------------------ sizes

    @property
    def n_pieces(self) -> int:
        return len(self.names)

    @property
    def n_notes(self) -> int:
        return int(self.note_offsets[-1])

    @property
    def nbytes(self) -> int:
        arrays = (self.note_offsets, self.onsets, self.pitches, self.symbols, self._prefix, self._inverse, self._room)
        return int(sum(a.nbytes for a in arrays)) + int(self.sym_offsets.nbytes)

    # ------------------------------------------------------------ queries

    def longest_copy(self, piece: Piece, *, beats_per_bar: float = 4.0, bars: float = 2.0) -> Copy:
        """The longest passage of ``piece`` (in notes, in any transposition) that also occurs in a
        training piece, where it starts in both, and whether it spans more than ``bars`` bars of
        ``beats_per_bar`` beats. When several passages are equally long, the one found first is given."""
        limit = float(beats_per_bar * bars)
        syms, onsets, pitches = passage_symbols(piece, self.grid, self.max_delta_beats)
        if not len(onsets) or not self.n_notes:
            return _nothing(0, limit)
        found = self._longest_common(syms)
        if found is None:
            return _nothing(1, limit)
        length, t, g = found  # symbols; start symbol in the training array and in the piece
        p = int(np.searchsorted(self.sym_offsets, t, side="right")) - 1
        local = t - int(self.sym_offsets[p])
        note = int(self.note_offsets[p]) + local
        beats = float(onsets[g + length] - onsets[g])
        return Copy(
            notes=length + 1,
            beats=beats,
            generated_start_beats=float(onsets[g]),
            training_piece=self.names[p],
            training_start_beats=float(self.onsets[note]),
            transposition=int(pitches[g]) - int(self.pitches[note]),
            flagged=beats > limit,
            generated_start_note=g,
            training_start_note=local,
            limit_beats=limit,
        )

    def _longest_common(self, syms: np.ndarray) -> tuple[int, int, int] | None:
        """(L, training start, piece start) of a longest common run of symbols, or None."""
        high = min(len(syms), self._longest)
        if high < 1:
            return None
        prefix, inverse = self._hasher.prepare(syms)
        best = None
        low = 0  # a common run of `low` symbols is known to exist
        while low < high:
            mid = (low + high + 1) // 2
            hit = self._match(syms, prefix, inverse, mid)
            if hit is None:
                high = mid - 1
            else:
                low, best = mid, (mid, *hit)
        return best

    def _match(self, syms: np.ndarray, prefix: np.ndarray, inverse: np.ndarray, length: int) -> tuple[int, int] | None:
        """(training start, piece start) of a run of ``length`` symbols both share, checked symbol by symbol."""
        g_starts = np.arange(len(syms) - length + 1)
        g_hash = _Hasher.windows(prefix, inverse, g_starts, length)
        order = np.argsort(g_hash, kind="stable")
        sorted_hash = g_hash[order]
        t_starts = np.flatnonzero(self._room >= length)
        t_hash = _Hasher.windows(self._prefix, self._inverse, t_starts, length)
        left = np.searchsorted(sorted_hash, t_hash)
        hits = left < len(sorted_hash)
        hits[hits] = sorted_hash[left[hits]] == t_hash[hits]
        t_hit, left = t_starts[hits], left[hits]
        if not len(t_hit):
            return None
        # the first piece window of each matching hash: a collision-free hash makes the first check succeed
        found = self._verify(syms, t_hit, order[left], length)
        if found is not None:
            return found
        # hash collisions: try every other piece window of the same hash, a chunk at a time
        right = np.searchsorted(sorted_hash, t_hash[hits], side="right")
        extra = right - left - 1
        keep = extra > 0
        t_hit, left, extra = t_hit[keep], left[keep], extra[keep]
        step = max(1, _CHUNK // max(1, length))
        for a in range(0, len(t_hit), step):
            ts, ls, ex = t_hit[a : a + step], left[a : a + step], extra[a : a + step]
            ends = np.cumsum(ex)
            for b in range(0, int(ends[-1]), step):
                # pairs b..b+step of this chunk's (training window, later piece window of its hash)
                pair = np.arange(b, min(int(ends[-1]), b + step))
                owner = np.searchsorted(ends, pair, side="right")
                within = pair - (ends - ex)[owner]
                found = self._verify(syms, ts[owner], order[ls[owner] + 1 + within], length)
                if found is not None:
                    return found
        return None

    def _verify(self, syms: np.ndarray, t: np.ndarray, g: np.ndarray, length: int) -> tuple[int, int] | None:
        """The first pair (t[i], g[i]) whose windows of ``length`` symbols are equal, or None."""
        step = max(1, _CHUNK // max(1, length))
        offsets = np.arange(length)
        for a in range(0, len(t), step):
            ts, gs = t[a : a + step], g[a : a + step]
            same = (self.symbols[ts[:, None] + offsets] == syms[gs[:, None] + offsets]).all(axis=1)
            first = np.flatnonzero(same)
            if len(first):
                return int(ts[first[0]]), int(gs[first[0]])
        return None


def copy_rate(
    index: OriginalityIndex, pieces: Sequence[Piece], *, beats_per_bar: float = 4.0, bars: float = 2.0
) -> dict[str, Any]:
    """How much of ``pieces`` is copied from the index's training pieces: the share of pieces whose
    longest copy is flagged (longer than ``bars`` bars), and the mean and longest copy in notes and beats."""
    copies = [index.longest_copy(p, beats_per_bar=beats_per_bar, bars=bars) for p in pieces]
    notes = np.array([c.notes for c in copies], dtype=np.float64)
    beats = np.array([c.beats for c in copies], dtype=np.float64)
    flagged = sum(c.flagged for c in copies)
    return {
        "pieces": len(copies),
        "flagged": flagged,
        "flagged_share": flagged / len(copies) if copies else 0.0,
        "mean_notes": float(notes.mean()) if copies else 0.0,
        "max_notes": int(notes.max()) if copies else 0,
        "mean_beats": float(beats.mean()) if copies else 0.0,
        "max_beats": float(beats.max()) if copies else 0.0,
        "limit_beats": float(beats_per_bar * bars),
    }
