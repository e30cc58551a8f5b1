"""The performance events' fill-in-the-middle: a chunk or a piece cut at two instants (10 ms steps), and the
prompt of a span in seconds.

:class:`PerformanceInfilling` is the infilling part of
:class:`~musegen.representations.performance.PerformanceRepresentation` (a mixin over
:class:`~musegen.representations.tokens.TokenRepresentation`). The events are cut by time, as a
pianist's playing is: with the span [s, e) and ``f`` the first onset at or after ``e``,

- the prefix holds the events before ``s`` of the notes begun before it (a note still down at ``s``
  has no NoteOff there), then the time shifts to ``s``;
- the middle holds what happens in [s, f]: the NoteOffs of the prefix's notes still down, the notes
  begun in the span, every note let go at ``f`` at the latest, and the shifts that bring it to ``f``;
- the suffix starts with the shifts from ``s`` to ``f`` (the time the middle must fill, which the
  model so reads before it writes) and holds the notes begun from ``f`` on.

``fim_split`` cuts training chunks so, ``infill_plan`` the prompt that regenerates a span, both
through :meth:`PerformanceInfilling.fim_parts`; ``decode_middle`` times a middle's notes back in the
piece's beats through its tempo map.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from musegen.notes import Piece, make_notes, seconds_to_beats
from musegen.representations.performance.codec import OFF, PerformanceTokenizer, note_events
from musegen.representations.tokens.cuts import cut_after, cut_before
from musegen.steering.infill import InfillPlan, check_span, context_budget
from musegen.streams.fim import FimParts, psm
from musegen.vocabulary import BOS_ID, Vocabulary


def _onset(prev: str, tok: str) -> bool:
    """An instant begins at ``tok``: a prefix may be cut before it."""
    return prev.startswith("TimeShift_") and not tok.startswith("TimeShift_")


def _onset_end(prev: str, tok: str) -> bool:
    """An instant ended before ``tok``: a suffix may be cut there."""
    return tok.startswith("TimeShift_") and not prev.startswith("TimeShift_")


class PerformanceInfilling:
    """Fill in the middle for performance events (cuts at any 10 ms instant, not only at notes)."""

    tokenizer: PerformanceTokenizer

    if TYPE_CHECKING:  # from the token representation

        @property
        def vocab(self) -> Vocabulary: ...

        def _sentinels(self) -> tuple[int, int, int, int]: ...

    def fim_parts(self, q: np.ndarray, s: int, e: int) -> tuple[list[str], list[str], list[str], int]:
        """(prefix, suffix, middle) events of notes ``q`` ((N, 4) [onset, offset, pitch, level] steps) cut at
        steps ``s`` < ``e``, and the gap ``f - s`` the middle fills (see the module doc)."""
        tok = self.tokenizer
        q = np.asarray(q, dtype=np.int64).reshape(-1, 4)
        onset = q[:, 0]
        pre, mid, suf = q[onset < s], q[(onset >= s) & (onset < e)], q[onset >= e]
        f = int(suf[0, 0]) if len(suf) else int(e)
        prefix: list[str] = []
        if len(pre):
            origin = int(pre[0, 0])
            events = [(t - origin, k, p, v) for t, k, p, v in note_events(pre) if t < s]
            prefix = tok.write(events) + tok.shifts(s - origin - max(t for t, *_ in events))
        held = pre[pre[:, 1] >= s]  # prefix notes still down at s: the middle lets them go
        clipped = np.column_stack([mid[:, 0], np.minimum(mid[:, 1], f), mid[:, 2:]]) if len(mid) else mid
        events = [(min(int(off), f) - s, OFF, int(p), 0) for _, off, p, _ in held.tolist()]
        events += [(t - s, k, p, v) for t, k, p, v in note_events(clipped)]
        middle = tok.write(events) + tok.shifts(f - s - max((t for t, *_ in events), default=0))
        suffix = tok.shifts(f - s) + tok.write([(t - f, k, p, v) for t, k, p, v in note_events(suf)])
        return prefix, suffix, middle, f - s

    def fim_split(self, chunk: np.ndarray, rng: np.random.Generator) -> FimParts | None:
        """A training chunk cut at two random instants (not only at notes): the FIM example's parts."""
        notes = self.tokenizer.parse(self.vocab.decode(np.asarray(chunk)))[0]
        if len(notes) < 2:
            return None
        q = np.array([n[:4] for n in notes], dtype=np.int64)
        q = q[np.lexsort((q[:, 2], q[:, 0]))]
        last = int(q[-1, 0]) + 1
        s = int(rng.integers(0, last))
        e = int(rng.integers(s + 1, last + 1))
        prefix, suffix, middle, _ = self.fim_parts(q, s, e)
        return self.vocab.encode(prefix), self.vocab.encode(suffix), self.vocab.encode(middle)

    def infill_plan(self, piece: Piece, start: float, end: float, window: int) -> InfillPlan:
        """The prompt that regenerates beats [start, end) of ``piece`` (snapped to 10 ms through its tempo map).

        The prompt keeps what the window leaves beside the middle's expected events
        (:func:`~musegen.steering.infill.context_budget`), before and after the span, each cut at an instant.
        """
        start, end = check_span(piece, start, end)
        tok = self.tokenizer
        sps = tok.steps_per_second
        q = tok.notes_of(piece)
        s = round(float(piece.seconds(start)) * sps)
        e = max(s + 1, round(float(piece.seconds(end)) * sps))
        prefix, suffix, middle, gap = self.fim_parts(q, s, e)
        whole = len(prefix)
        steps = max(1, int(q[:, 1].max())) if len(q) else 1
        rate = len(tok.tokens_of(q)) / steps  # this piece's events per step
        keep_pre, keep_suf = context_budget(window, rate * (e - s) + 1)
        prefix = prefix[cut_before(prefix, len(prefix) - keep_pre, _onset) :]
        suffix = suffix[: cut_after(suffix, keep_suf, _onset_end)]
        head = [BOS_ID] if len(prefix) == whole else []
        prompt = psm(self.vocab.encode(prefix), self.vocab.encode(suffix), None, self._sentinels(), window, head=head)
        held = q[(q[:, 0] < s) & (q[:, 1] > s)]
        beats = seconds_to_beats(np.array([s, e]) / sps, piece.tempos())
        return InfillPlan(
            piece,
            float(beats[0]),
            float(beats[1]),
            prompt,
            e - s,
            gap,
            carry=(held[:, 1] - s).astype(np.float64),
            prefix_tokens=len(prefix),
            suffix_tokens=len(suffix),
            truth=self.vocab.encode(middle),
            step_seconds=1.0 / sps,
        )

    def decode_middle(self, ids: np.ndarray, plan: InfillPlan, name: str = "middle") -> Piece:
        """Notes of a generated middle, up to ``<fim_end>``, in the piece's beats from the span's start (the
        events are in seconds; the piece's tempo map gives their beats). The NoteOffs of the notes held from
        before the span make no note: those notes keep their lengths in the piece."""
        ids = np.asarray(ids)
        stop = np.flatnonzero(ids == self._sentinels()[3])
        notes = self.tokenizer.parse(self.vocab.decode(ids[: stop[0]] if len(stop) else ids))[0]
        if not notes:
            return Piece(name, make_notes([]), plan.piece.tempo)
        sps = self.tokenizer.steps_per_second
        origin = float(plan.piece.seconds(plan.start))
        times = np.array([(on, off) for on, off, *_ in notes], dtype=np.float64) / sps + origin
        beats = seconds_to_beats(times, plan.piece.tempos()) - plan.start
        rows = [(b[0], b[1], n[2], n[3]) for b, n in zip(beats.tolist(), notes, strict=True)]
        return Piece(name, make_notes(rows), plan.piece.tempo)
