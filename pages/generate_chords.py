"""The Generate page's chord widgets (display only): a progression typed as text and how strictly to keep to it.

The progression is read, and every mistake named, in ``musegen.steering.chords``; this draws the widgets.
"""

from __future__ import annotations

import streamlit as st

from musegen.steering.chords import EXAMPLES
from musegen.steering.constraints import ChordChoice

PROGRESSION_HELP = (
    "One bar between bars (|); the chords of a bar share its beats, or write beats with slashes (F / / G). "
    f"% repeats the bar before, N.C. is no chord, C/E puts E in the bass; {EXAMPLES}. The progression starts "
    "where the new music does (a filled-in span: at its start)."
)
HARD_HELP = "Hard: every note begun under a chord is one of its tones. Soft: a lean towards them, by the strength."


def chords_input() -> ChordChoice | None:
    """The "Play over chords" widgets; None when no progression is typed."""
    with st.expander("Play over chords", icon=":material/queue_music:"):
        text = st.text_input("Chord progression", "", placeholder="C | Am | F G7 | C", help=PROGRESSION_HELP)
        c1, c2, c3, c4 = st.columns([1, 1, 1.2, 1.6])
        beats = c1.number_input("Beats per bar", 1, 16, 4)
        repeat = c2.checkbox("Repeat it", True, help="Start again at its end; off: once, then the music is free.")
        mode = c3.radio("Rule", ["hard", "soft"], horizontal=True, help=HARD_HELP)
        lean = "A note off the chord is e^strength times less likely; 0 = the model alone."
        strength = c4.slider("Strength", 0.0, 8.0, 2.0, 0.25, disabled=mode == "hard", help=lean)
        c1, c2 = st.columns(2)
        weak = "Notes begun on weak beats (2 and 4, off-beats) may be any pitch the other rules allow."
        passing = c1.checkbox("Passing tones on weak beats", disabled=mode == "soft", help=weak)
        low = "The first note under each chord is its bass note (C/E: an E)."
        bass = c2.checkbox("Bass on the chord's bass note", help=low)
    if not text.strip():
        return None
    return ChordChoice(text, int(beats), bool(repeat), mode, float(strength), bool(passing), bool(bass))
