"""The Generate page's span to fill in (display only): a slider in the run's unit, the piece drawn with the span marked.

Performance runs choose the span in seconds (their events are in seconds), the others in beats; the
rules (the room, the span offered first, seconds to beats through the tempo map) live in
:mod:`musegen.steering.infill`.
"""

from __future__ import annotations

import streamlit as st

from musegen.notes import Piece
from musegen.output.plots import piano_roll_chart
from musegen.steering.infill import span_in_beats, span_offer, span_parts


def span_input(piece: Piece, unit: str = "beats") -> tuple[float, float]:
    """The span to regenerate, in beats of ``piece`` (chosen in ``unit``), with the piece drawn and the span marked."""
    room, first, step = span_offer(piece, unit)
    heard = " (as heard: the piece's tempo changes included)" if unit == "seconds" else ""
    start, end = st.slider(
        f"Span to regenerate ({unit})", 0.0, room, first, step, help=f"Everything else stays{heard}."
    )
    beats = span_in_beats(piece, start, end, unit)
    kept, regenerated = span_parts(piece, *beats)
    st.altair_chart(
        piano_roll_chart([("kept", kept, 0.0), ("regenerated", regenerated, 0.0)]), width="stretch", key="span-roll"
    )
    st.caption(f"Orange: the notes of {unit} {start:g}-{end:g}, which the model writes again; grey: what stays.")
    return beats
