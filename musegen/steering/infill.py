"""Infilling: regenerate one span of a piece so that it leads from what precedes and into what follows.

A token run trained with fill-in-the-middle examples (``DataConfig.fim_rate``; Bavarian et al.
2022, "Efficient Training of Language Models to Fill in the Middle") reads a prompt

    <fim_suffix> suffix <fim_prefix> prefix <fim_middle>

(the suffix first, so that the prefix runs straight into the middle) and writes the middle, then
``<fim_end>``. The representation builds the prompt of a span
(:meth:`~musegen.representations.tokens.TokenRepresentation.infill_plan`: for the timed tokens the
suffix begins with the time from the span's start to its first note, so the model knows how much
time it must fill) and the constraint that makes the middle fit: notes only inside the span, the
time adding up exactly to where the suffix begins. This module holds the plan, :func:`join`,
which puts a middle back between the notes before and after the span, and :func:`infill_advice`, what
the app and the CLI say about how well a run's architecture fills in.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from musegen.config import ModelConfig
from musegen.errors import ConfigError
from musegen.notes import END, PITCH, START, Piece, make_notes, seconds_to_beats

MIN_SPAN_BEATS = 0.25  # a sixteenth: the shortest span worth regenerating
RECURRENT_ARCHS = ("lstm", "classic-lstm")  # they read the prompt in order, through one state
# BENCHMARKS.md, "Does the model use what follows the span?": nats per token the suffix is worth to the
# true middle of a two-beat span of the held-out chorales (the demo models, python -m benchmarks steering)
RECURRENT_ADVICE = (
    "An LSTM hears the music after the span only faintly (the prompt gives it first, before the music leading "
    "in, and the LSTM keeps little of it that long), so its new passage mostly follows what comes before. "
    "WaveNet and Transformer runs use both sides: on the demo chorales, the music after a two-beat span helps "
    "them 0.125 and 0.109 nats a token, the LSTM 0.002. To lead into what follows, fill in with one of those."
)


@dataclass
class InfillPlan:
    """How a span of ``piece`` is regenerated: the prompt and what the middle must fit."""

    piece: Piece  # the whole piece, as the representation reads it (times in beats)
    start: float  # the span in beats, snapped to what the representation can express
    end: float
    prompt: np.ndarray  # ids the model is primed with: <fim_suffix> suffix <fim_prefix> prefix <fim_middle>
    span: int  # the span in the representation's time unit (grid steps, or classic events)
    gap: int  # time from the span's start to the suffix's first note (>= span), same unit
    # ends (same unit, from the span's start) of the prefix's notes still sounding when the span begins
    carry: np.ndarray = field(default_factory=lambda: np.zeros(0))
    prefix_tokens: int = 0  # tokens of context before and after the span in the prompt
    suffix_tokens: int = 0
    truth: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))  # the span's own middle, as ids
    step_seconds: float = 0.0  # seconds of one unit of span and gap where the representation counts in seconds

    def without_suffix(self, sentinels: tuple[int, int, int, int]) -> np.ndarray:
        """The prompt with nothing after the span (``<fim_suffix>`` then at once ``<fim_prefix>``)."""
        prompt = np.asarray(self.prompt)
        cut = int(np.flatnonzero(prompt == sentinels[0])[0])
        return np.concatenate([prompt[:1], prompt[cut:]]).astype(np.int32)

    @property
    def where(self) -> str:
        """The span for people: "beats 4-8", or "seconds 2.00-4.50" where it is cut in seconds."""
        if self.step_seconds:  # performance events: the span was chosen, and is cut, in seconds
            first, last = span_seconds(self.piece, self.start, self.end)
            return f"seconds {first:.2f}-{last:.2f}"
        return f"beats {self.start:g}-{self.end:g}"

    @property
    def label(self) -> str:
        return f"{self.where} ({self.prefix_tokens} tokens before, {self.suffix_tokens} after)"


def context_budget(window: int, middle_tokens: float) -> tuple[int, int]:
    """Tokens of prefix and of suffix a prompt keeps so that prompt and middle fit the training window.

    Training examples never exceed the window, so a model has never read past it: what the middle is
    expected to need (``middle_tokens``) is kept free, the rest goes two thirds to the prefix and one
    third to the suffix, with at least 8 tokens each (a very long span then runs past the window).
    """
    free = max(0, int(window - 4 - np.ceil(middle_tokens)))
    prefix = max(8, (2 * free) // 3)
    return prefix, max(8, free - prefix)


def infill_advice(model: ModelConfig) -> str | None:
    """What to know before filling in with ``model``: a sentence for a recurrent run, None for the others.

    The prompt is in the SPM order (suffix, prefix, middle), so a recurrent model must carry the suffix
    across the whole prefix; the small demo LSTM hardly does. A shorter prefix brings the suffix closer
    but costs more than the suffix brings (measured on the demo LSTM with 0-48 tokens of prefix, the
    room left unused or given to the suffix: never lower than the default split), so the budget stays.
    """
    return RECURRENT_ADVICE if model.arch in RECURRENT_ARCHS else None


def check_span(piece: Piece, start: float, end: float) -> tuple[float, float]:
    """``(start, end)`` checked against the piece: a ConfigError that says what to change."""
    if not (np.isfinite(start) and np.isfinite(end)):
        raise ConfigError(f"the span must be two finite numbers of beats, got {start}..{end}.")
    length = float(piece.notes[:, END].max()) if piece.n_notes else 0.0
    if start < 0 or end - start < MIN_SPAN_BEATS:
        raise ConfigError(
            f"the span must start at beat 0 or later and last at least {MIN_SPAN_BEATS} beats; got {start:g}-{end:g}."
        )
    if start >= length:
        raise ConfigError(
            f"the span starts at beat {start:g}, after the piece ends (beat {length:g}); choose an earlier start."
        )
    return float(start), float(end)


def span_room(piece: Piece) -> float:
    """The beats a span can be chosen in: the piece's length rounded up to a sixteenth (at least one beat)."""
    return max(1.0, float(np.ceil(piece.length_beats * 4) / 4))


def default_span(piece: Piece) -> tuple[float, float]:
    """The span offered first: two bars of 4/4 from the bar nearest a third of the piece; in a piece of 12
    beats or fewer, its middle third (on sixteenths)."""
    length = span_room(piece)
    if length <= 12:
        return round(length / 3 * 4) / 4, round(2 * length / 3 * 4) / 4
    first = 4.0 * round(length / 3 / 4)
    return min(first, length - 1.0), min(first + 8.0, length)


SPAN_UNITS = ("beats", "seconds")  # what a span is chosen in: the score's beats, or the seconds heard


def _check_unit(unit: str) -> None:
    if unit not in SPAN_UNITS:
        raise ConfigError(f"a span is given in beats or seconds, got {unit!r}.")


def span_in_beats(piece: Piece, start: float, end: float, unit: str = "beats") -> tuple[float, float]:
    """A span given in ``unit`` as beats of ``piece``: seconds go through its tempo map."""
    _check_unit(unit)
    if not (np.isfinite(start) and np.isfinite(end) and 0 <= start < end):
        raise ConfigError(f"the span needs 0 <= start < end ({unit}), got {start:g}-{end:g}.")
    if unit == "beats":
        return float(start), float(end)
    beats = seconds_to_beats(np.array([start, end], dtype=np.float64), piece.tempos())
    return float(beats[0]), float(beats[1])


def parse_span(text: str) -> tuple[float, float, str]:
    """``"8:16"`` (beats) or ``"4s:8.5s"`` (seconds) as (start, end, unit); a ConfigError that shows the forms."""
    low, sep, high = (text or "").strip().partition(":")
    seconds = [part.strip().lower().endswith("s") for part in (low, high)]
    try:
        if not sep or seconds[0] != seconds[1]:
            raise ValueError(text)
        start, end = (float(part.strip().lower().removesuffix("s")) for part in (low, high))
    except ValueError:
        raise ConfigError(
            f"--infill must be START:END in beats (e.g. 8:16) or in seconds (e.g. 4s:8.5s); got {text!r}."
        ) from None
    unit = "seconds" if seconds[0] else "beats"
    if not (np.isfinite(start) and np.isfinite(end) and 0 <= start < end):
        raise ConfigError(f"--infill needs 0 <= START < END ({unit}), got {text}.")
    return start, end, unit


def span_seconds(piece: Piece, start: float, end: float) -> tuple[float, float]:
    """Beats [start, end) of ``piece`` as the seconds heard (the inverse of :func:`span_in_beats`)."""
    first, last = (float(t) for t in piece.seconds(np.array([start, end], dtype=np.float64)))
    return first, last


def span_offer(piece: Piece, unit: str = "beats") -> tuple[float, tuple[float, float], float]:
    """What a span is chosen from in ``unit``: (the room, the span offered first, the step); seconds
    through the piece's tempo map, on 50 ms steps."""
    room, first = span_room(piece), default_span(piece)
    if unit == "beats":
        return room, first, 0.25
    _check_unit(unit)
    seconds = [round(float(t) * 20) / 20 for t in piece.seconds(np.array([room, *first]))]
    return seconds[0], (seconds[1], max(seconds[2], seconds[1] + 0.05)), 0.05


def span_parts(piece: Piece, start: float, end: float) -> tuple[Piece, Piece]:
    """(kept, regenerated): the notes outside the span and those that begin in [start, end), as infilling
    splits them."""
    inside = (piece.notes[:, START] >= start) & (piece.notes[:, START] < end)
    return Piece(piece.name, piece.notes[~inside]), Piece("span", piece.notes[inside])


def join(piece: Piece, start: float, end: float, middle: Piece, name: str = "infilled") -> Piece:
    """``piece`` with the notes that begin in [start, end) replaced by ``middle`` (timed from ``start``).

    The joins are repaired so that no key is struck while it still sounds: a note (before or inside
    the span) that would still hold when the same key is struck again later (inside or after the
    span) is cut at that later onset. Notes before and after the span keep their times exactly.
    """
    notes = piece.notes
    onset = notes[:, START]
    before, after = notes[onset < start], notes[onset >= end]
    mid = middle.notes.copy()
    mid[:, [START, END]] += start
    mid = mid[(mid[:, START] >= start) & (mid[:, START] < end)]
    part = np.concatenate([np.zeros(len(before)), np.ones(len(mid)), np.full(len(after), 2.0)])
    rows = np.concatenate([before, mid, after])
    order = np.lexsort((rows[:, START], rows[:, PITCH]))
    rows, part = rows[order], part[order]
    same = (rows[1:, PITCH] == rows[:-1, PITCH]) & (part[1:] != part[:-1]) & (rows[:-1, END] > rows[1:, START])
    cut = np.flatnonzero(same)
    rows[cut, END] = rows[cut + 1, START]
    rows = rows[rows[:, END] > rows[:, START]]
    return Piece(name, make_notes(rows), piece.tempo)
