"""The timed tokens' fill-in-the-middle: a chunk or a piece cut at two grid times, and the prompt of a span.

:class:`TimedInfilling` is the infilling part of :class:`~musegen.representations.timed.TimedRepresentation`
(a mixin over :class:`~musegen.representations.tokens.TokenRepresentation`): ``fim_split`` cuts the
training chunks of fill-in-the-middle examples, ``infill_plan`` the prompt that regenerates a passage,
both through ``fim_parts``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from musegen.notes import Piece
from musegen.representations.timed.codec import TimedTokenizer, quantize
from musegen.representations.tokens.cuts import cut_after, cut_before
from musegen.steering.infill import InfillPlan, check_span, context_budget
from musegen.streams.fim import FimParts, psm
from musegen.vocabulary import BOS_ID, Vocabulary


def _onset(prev: str, tok: str) -> bool:
    """An instant begins at ``tok``: a prefix may be cut before it."""
    return tok.startswith("Pitch_") and prev.startswith("TimeShift_")


def _onset_end(prev: str, tok: str) -> bool:
    """An instant ended before ``tok``: a suffix may be cut there."""
    return tok.startswith("TimeShift_") and prev.startswith("Duration_")


class TimedInfilling:
    """Fill in the middle for TSD tokens (cuts at grid times, not only at notes)."""

    tokenizer: TimedTokenizer

    if TYPE_CHECKING:  # from the token representation

        @property
        def vocab(self) -> Vocabulary: ...

        def _sentinels(self) -> tuple[int, int, int, int]: ...

    def _quantized(self, ids: np.ndarray) -> np.ndarray:
        piece = self.tokenizer.detokenize(self.vocab.decode(ids))
        return quantize(piece, self.tokenizer.steps_per_beat, self.tokenizer.max_steps)

    def _ids(self, tokens: list[str]) -> np.ndarray:
        return self.vocab.encode(tokens)

    def fim_parts(self, q: np.ndarray, s: int, e: int) -> tuple[list[str], list[str], list[str], int]:
        """(prefix, suffix, middle) tokens of quantized notes cut at grid steps ``s`` < ``e``, and the gap.

        The prefix (from its first note) ends with the shifts that bring it to ``s``; the middle holds
        the notes that begin in [s, e), timed from ``s``, and ends with the shifts to where the suffix
        begins (its first note at or after ``e``, or ``e``); the suffix starts with the shifts from ``s``
        to that note: the ``gap`` the middle must fill, which the model so reads before it writes.
        """
        tok = self.tokenizer
        onset = q[:, 0]
        pre, mid, suf = q[onset < s], q[(onset >= s) & (onset < e)], q[onset >= e]
        f = int(suf[0, 0]) if len(suf) else int(e)
        prefix = tok.tokens_of(pre, int(pre[0, 0])) + tok.shifts(s - int(pre[-1, 0])) if len(pre) else []
        middle = tok.tokens_of(mid, s) + tok.shifts(f - (int(mid[-1, 0]) if len(mid) else s))
        suffix = tok.shifts(f - s) + tok.tokens_of(suf, f)
        return prefix, suffix, middle, f - s

    def fim_split(self, chunk: np.ndarray, rng: np.random.Generator) -> FimParts | None:
        """A training chunk cut at two random grid times (not only at notes): the FIM example's parts."""
        q = self._quantized(chunk)
        if len(q) < 2:
            return None
        last = int(q[-1, 0]) + 1
        s = int(rng.integers(0, last))
        e = int(rng.integers(s + 1, last + 1))
        prefix, suffix, middle, _ = self.fim_parts(q, s, e)
        return self._ids(prefix), self._ids(suffix), self._ids(middle)

    def infill_plan(self, piece: Piece, start: float, end: float, window: int) -> InfillPlan:
        """The prompt that regenerates beats [start, end) of ``piece`` (snapped to the grid).

        The prompt keeps what the window leaves beside the middle's expected tokens
        (:func:`~musegen.steering.infill.context_budget`), before and after the span, each cut where an
        onset begins; notes of the prefix still sounding at the span's start count towards the
        notes sounding at once.
        """
        start, end = check_span(piece, start, end)
        tok = self.tokenizer
        spb = tok.steps_per_beat
        q = quantize(piece, spb, tok.max_steps)
        s, e = round(start * spb), max(round(start * spb) + 1, round(end * spb))
        prefix, suffix, middle, gap = self.fim_parts(q, s, e)
        full_prefix = len(prefix)
        rate = len(tok.tokens_of(q)) / max(1.0, piece.length_beats)  # this piece's tokens per beat
        keep_pre, keep_suf = context_budget(window, rate * (end - start) + 1)
        prefix = prefix[cut_before(prefix, len(prefix) - keep_pre, _onset) :]
        suffix = suffix[: cut_after(suffix, keep_suf, _onset_end)]
        head = [BOS_ID] if len(prefix) == full_prefix else []
        prompt = psm(self._ids(prefix), self._ids(suffix), None, self._sentinels(), window, head=head)
        pre = q[q[:, 0] < s]
        ends = pre[:, 0] + pre[:, 1] - s
        return InfillPlan(
            piece,
            s / spb,
            e / spb,
            prompt,
            e - s,
            gap,
            carry=ends[ends > 0],
            prefix_tokens=len(prefix),
            suffix_tokens=len(suffix),
            truth=self._ids(middle),
        )
