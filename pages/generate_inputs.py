"""The Generate page's inputs (display only): the seed, the sampling, the "Keep to" rules and the span.

Each helper draws its widgets and returns what the library takes; the rules behind the choices (the
sampling builder, the key and range mapping, the default span, the tempo range) live in ``musegen``.
"""

from __future__ import annotations

import streamlit as st

from musegen.config import ConstraintConfig, Limits, SamplingConfig, default_top_k, sampling_choice
from musegen.generation.compose import Composer, Seed
from musegen.notes import TEMPO_RANGE, TONICS, clamp_tempo, pitch_name
from musegen.output.instruments import PROGRAMS, program_names
from musegen.representations.base import Representation
from musegen.steering import constraints as rules
from musegen.steering.constraints import KEYBOARD, NO_KEY, SCALES, constraint_choice, key_name, keyboard_range
from pages.common import stop_with
from pages.generate_chords import chords_input

FROM_DATA, RANDOM, UPLOAD = "A piece from the model's data", "A random passage", "My own MIDI file"
POLYPHONY_HELP = f"0 = no limit. Performance runs: {rules.EVENT_RULES}."
GRAMMAR_HELP = {
    "event": "No key is struck again before it is let go, and no key is let go that is not down: the event "
    "sequence can never be malformed (notes still down at the end are released there).",
    "token": "Every pitch gets its duration, pitches at one onset rise, no stray time shift: the token sequence "
    "can never be malformed. Piano-roll frames always are well formed.",
}
MOTIF_HELP = (
    "How strongly the piece comes back to figures it has already played (the seed's included): an "
    "accompaniment pattern, a motif. 0 = off: the model alone decides. The default suits this model's "
    "music: its pieces repeat {repeat:.0%} of their 4-note figures, so {suggested:g}."
)
LENGTHS_HELP = (
    "Temperature of each note's length. At 1 the lengths keep the variety of the music the model learned; "
    "colder, every note drifts to the commonest length (in piano music, the shortest)."
)


def seed_input(composer: Composer, unit: str, whole: bool = False) -> Seed:
    """The seed widgets; returns a Seed (or stops the page with a hint). ``whole``: a piece to infill."""
    window = composer.config.data.window
    mode = st.radio("Seed", [FROM_DATA, RANDOM, UPLOAD], horizontal=True, label_visibility="collapsed")
    c1, c2 = st.columns([3, 1])
    context = f"Context given to the model; it was trained on windows of {window} {unit}."
    if whole:
        context = f"The passage whose span you regenerate ({unit}); the model reads the music around the span."
    top, default = (8 * window, min(4 * window, 512)) if whole else (4 * window, min(64, window))
    length = int(c2.number_input(f"Seed length ({unit})", 1, top, default, help=context))
    if mode == FROM_DATA:
        if not (pieces := composer.pieces()):
            stop_with("This model stores no pieces; choose a random passage or upload a MIDI file.")
        first = "Held-out pieces come first: the model never trained on them."
        index = c1.selectbox("Piece", range(len(pieces)), format_func=lambda i: pieces[i][0], help=first)
        where = "Where in the piece the seed begins."
        start = st.slider(f"Start at {unit[:-1]}", 0, max(0, len(pieces[index][1]) - 1), 0, help=where)
        return composer.seed_from_piece(index, start, length)
    if mode == RANDOM:
        number = c1.number_input("Passage number", 0, 1_000_000, 0, help="Each number picks another passage.")
        return composer.random_seed(int(number), length)
    if (upload := c1.file_uploader("Seed MIDI file", type=["mid", "midi"], key="seed_upload")) is None:
        stop_with("Upload a MIDI file to continue, or pick another kind of seed.", ":material/upload_file:")
    return composer.seed_from_midi(upload.getvalue(), upload.name, length)


def sampling_input(
    lim: Limits, rep: Representation, seed_tempo: float, durations: bool, motif: tuple[float, float] | None
) -> tuple[SamplingConfig, float | None, int]:
    """The sampling widgets: (the sampling, the tempo, the instrument). ``durations``: the run draws note
    lengths as tokens of their own; ``motif``: it can remember its figures (token runs, when continuing a
    seed): the suggested strength and the run's music's figure repetition."""
    d, unit, unit_help = SamplingConfig(top_k=default_top_k(rep.unit)), rep.unit_name, rep.unit_help()
    c1, c2, c3, c4 = st.columns(4)
    argmax = "Greedy always takes the most likely token (the tutorial's argmax); it tends to loop."
    greedy = c1.radio("Strategy", ["Sample", "Greedy"], help=argmax) == "Greedy"
    safer = "Below 1: safer and more repetitive; above 1: more surprising."
    temp = c2.slider("Temperature", 0.05, 2.0, d.temperature, 0.05, disabled=greedy, help=safer)
    top_k = c3.number_input("Top-k", 0, 1000, d.top_k, disabled=greedy, help="Draw from the k likeliest; 0 = off.")
    nucleus = "Draw from the smallest set holding this much probability; 1 = off."
    top_p = c4.slider("Top-p", 0.05, 1.0, d.top_p, 0.05, disabled=greedy, help=nucleus)
    left, right = st.columns(2)
    memory, lengths = d.motif_memory, d.duration_temperature
    if motif is not None:
        suggested, distinct = motif
        remember = MOTIF_HELP.format(repeat=1 - distinct, suggested=suggested)
        memory = right.slider("Motif memory", 0.0, 0.95, suggested, 0.05, disabled=greedy, help=remember)
    if durations:
        start = float(d.duration_temperature or 1.0)
        lengths = left.slider("Temperature of note lengths", 0.05, 2.0, start, 0.05, disabled=greedy, help=LENGTHS_HELP)
    c1, c2, c3, c4, c5 = st.columns([1, 1, 1, 1.2, 1.8])
    length = c1.number_input(f"Length ({unit})", 1, lim.max_generation_length, d.length, step=32, help=unit_help)
    seed = c2.number_input("Random seed", 0, 2**31 - 1, 0, help="The same seed gives the same music.")
    together = "Pieces generated together; 2 or more are compared with the real music as a set."
    variations = c3.number_input("Variations", 1, 8, 2, help=together)
    keeps = f"The seed plays at {seed_tempo:g} BPM (its source's mean tempo); the output keeps it unless you change it."
    low, high = (int(t) for t in TEMPO_RANGE)
    seed_bpm = round(clamp_tempo(seed_tempo))
    tempo = c4.slider("Tempo (BPM)", low, high, seed_bpm, 1, help=keeps)
    program = c5.selectbox("Instrument", PROGRAMS, format_func=program_names().__getitem__)
    cfg = sampling_choice(
        length=length,
        temperature=temp,
        top_k=top_k,
        top_p=top_p,
        greedy=greedy,
        seed=seed,
        variations=variations,
        duration_temperature=lengths,
        motif_memory=memory,
        max_length=lim.max_generation_length,
    )
    return cfg, None if tempo == seed_bpm else float(tempo), int(program)  # None: the seed's tempo map


def constraints_input(unit: str) -> ConstraintConfig:
    """The "Keep to" widgets: a key or scale, a pitch range, most notes at once, the grammar, the chords."""
    tokens = unit != "frame"  # token and event runs have a grammar
    with st.expander("Keep to a key, a range, a number of notes at once", icon=":material/rule:"):
        c1, c2, c3 = st.columns([1, 1.4, 2])
        tonic = c1.selectbox("Key", [NO_KEY, *TONICS], help="Pitches outside the scale are never drawn.")
        scale = c2.selectbox("Scale", list(SCALES), disabled=tonic == NO_KEY)
        keys = list(range(KEYBOARD[0], KEYBOARD[1] + 1))
        low, high = c3.select_slider("Pitch range", options=keys, value=KEYBOARD, format_func=pitch_name)
        c1, c2 = st.columns([1, 2])
        most = c1.number_input("Most notes at once", 0, 16, rules.default_polyphony(unit), help=POLYPHONY_HELP)
        label = "Well-formed events only" if unit == "event" else "Well-formed tokens only"
        help_ = GRAMMAR_HELP["event" if unit == "event" else "token"]
        grammar = c2.checkbox(label, value=tokens, disabled=not tokens, help=help_)
    low, high = keyboard_range(low, high)
    chords = chords_input()
    return constraint_choice(
        key=key_name(tonic, scale), low=low, high=high, max_polyphony=most, grammar=grammar, unit=unit, chords=chords
    )
