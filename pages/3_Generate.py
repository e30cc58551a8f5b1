"""Generate page: pick a model and a seed, set the sampling, listen, compare, download."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from musegen.config import ConstraintConfig, Limits, SamplingConfig
from musegen.errors import MusegenError
from musegen.evaluation.report import MUSIC_COLUMNS, music_rows, run_summary
from musegen.generation.compose import Composer, Composition, Infilling, Seed
from musegen.metrics.music import compare_sets, piece_stats
from musegen.metrics.originality import Copy, OriginalityIndex
from musegen.notes import Piece
from musegen.output.instruments import PROGRAMS, program_names
from musegen.output.midi import midi_bytes
from musegen.output.plots import piano_roll_chart
from musegen.steering.constraints import SCALES, describe
from musegen.training.visibility import demo_dir, model_choices, model_stamp, runs_dir
from pages.common import composer as load_composer
from pages.common import friendly_errors, play, progress_bar, session_id, stop_with

FROM_DATA, RANDOM, UPLOAD = "A piece from the model's data", "A random passage", "My own MIDI file"
CONTINUE, INFILL = "Continue a seed", "Fill in a passage"
TONICS = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
NUMBERS = {c.label: st.column_config.NumberColumn(format=c.format, help=c.help) for c in MUSIC_COLUMNS if c.format}


@st.cache_data(max_entries=8, show_spinner=False)
def _reference_stats(run_dir: str, stamp: float) -> list:
    return [piece_stats(p) for p in load_composer(run_dir).reference_pieces(24)]


@st.cache_resource(max_entries=4, show_spinner=False)
def _index(run_dir: str, stamp: float) -> OriginalityIndex:
    return OriginalityIndex.from_pieces(load_composer(run_dir).training_pieces())


def _seed(composer: Composer, unit: str, whole: bool = False) -> Seed:
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


def _sampling(
    lim: Limits,
    unit: str,
    unit_help: str,
    seed_tempo: float,
    durations: bool,
    motif: tuple[float, float] | None,
) -> tuple[SamplingConfig, float, int]:
    """The sampling widgets. ``durations``: the run draws note lengths as tokens of their own; ``motif``: it can
    remember its figures (token runs, when continuing a seed): the suggested strength and the run's music's
    figure repetition."""
    d = SamplingConfig()
    c1, c2, c3, c4 = st.columns(4)
    argmax = "Greedy always takes the most likely token (the tutorial's argmax); it tends to loop."
    greedy = c1.radio("Strategy", ["Sample", "Greedy"], help=argmax) == "Greedy"
    safer = "Below 1: safer and more repetitive; above 1: more surprising."
    temp = c2.slider("Temperature", 0.05, 2.0, d.temperature, 0.05, disabled=greedy, help=safer)
    top_k = c3.number_input("Top-k", 0, 1000, d.top_k, disabled=greedy, help="Draw from the k likeliest; 0 = off.")
    nucleus = "Draw from the smallest set holding this much probability; 1 = off."
    top_p = c4.slider("Top-p", 0.05, 1.0, d.top_p, 0.05, disabled=greedy, help=nucleus)
    duration_temperature, motif_memory = d.duration_temperature, d.motif_memory
    left, right = st.columns(2)
    if motif is not None:
        suggested, distinct = motif
        remember = (
            "How strongly the piece comes back to figures it has already played (the seed's included): an "
            "accompaniment pattern, a motif. 0 = off: the model alone decides. The default suits this model's "
            f"music: its pieces repeat {1 - distinct:.0%} of their 4-note figures, so {suggested:g}."
        )
        motif_memory = right.slider("Motif memory", 0.0, 0.95, suggested, 0.05, disabled=greedy, help=remember)
    if durations:
        lengths = (
            "Temperature of each note's length. At 1 the lengths keep the variety of the music the model learned; "
            "colder, every note drifts to the commonest length (in piano music, the shortest)."
        )
        duration_temperature = left.slider(
            "Temperature of note lengths",
            0.05,
            2.0,
            float(d.duration_temperature or 1.0),
            0.05,
            disabled=greedy,
            help=lengths,
        )
    c1, c2, c3, c4, c5 = st.columns([1, 1, 1, 1.2, 1.8])
    length = c1.number_input(f"Length ({unit})", 1, lim.max_generation_length, d.length, step=32, help=unit_help)
    seed = c2.number_input("Random seed", 0, 2**31 - 1, 0, help="The same seed gives the same music.")
    together = "Pieces generated together; 2 or more are compared with the real music as a set."
    variations = c3.number_input("Variations", 1, 8, 2, help=together)
    start = int(np.clip(round(seed_tempo), 20, 300))
    keeps = f"The seed plays at {seed_tempo:g} BPM (its source's mean tempo); the output keeps it unless you change it."
    tempo = c4.slider("Tempo (BPM)", 20, 300, start, 1, help=keeps)
    program = c5.selectbox("Instrument", PROGRAMS, format_func=program_names().__getitem__)
    cfg = SamplingConfig(
        length=length,
        temperature=temp,
        top_k=top_k,
        top_p=top_p,
        greedy=greedy,
        seed=seed,
        variations=variations,
        duration_temperature=duration_temperature,
        motif_memory=motif_memory,
    )
    return cfg, float(tempo), int(program)


def _constraints(composer: Composer) -> ConstraintConfig:
    """The "Keep to" widgets: a key or scale, a pitch range, most notes at once, the grammar."""
    tokens = composer.rep.unit != "frame"  # token and event runs have a grammar
    with st.expander("Keep to a key, a range, a number of notes at once", icon=":material/rule:"):
        c1, c2, c3 = st.columns([1, 1.4, 2])
        tonic = c1.selectbox("Key", ["Any", *TONICS], help="Pitches outside the scale are never drawn.")
        mode = c2.selectbox("Scale", list(SCALES), disabled=tonic == "Any")
        low, high = c3.select_slider(
            "Pitch range",
            options=list(range(21, 109)),
            value=(21, 108),
            format_func=lambda m: f"{NAMES[m % 12]}{m // 12 - 1}",
        )
        c1, c2 = st.columns([1, 2])
        most = c1.number_input("Most notes at once", 0, 16, 0, help="0 = no limit.")
        events = composer.rep.unit == "event"
        grammar = c2.checkbox(
            "Well-formed events only" if events else "Well-formed tokens only",
            value=tokens,
            disabled=not tokens,
            help=(
                "No key is struck again before it is let go, and no key is let go that is not down: the "
                "event sequence can never be malformed (notes still down at the end are released there)."
                if events
                else "Every pitch gets its duration, pitches at one onset rise, no stray time shift: the token "
                "sequence can never be malformed. Piano-roll frames always are well formed."
            ),
        )
    full = (low, high) == (21, 108)
    return ConstraintConfig(
        key="" if tonic == "Any" else f"{tonic} {mode}",
        low=0 if full else int(low),
        high=127 if full else int(high),
        max_polyphony=int(most),
        grammar=bool(grammar and tokens),
    )


def _originality(copy: Copy) -> None:
    if copy.flagged:
        st.warning(copy.describe().capitalize(), icon=":material/content_copy:")
    else:
        st.caption(f":material/content_copy: {copy.describe().capitalize()}")


def _span(piece) -> tuple[float, float]:
    """The span to regenerate, with the piece drawn and the span marked."""
    length = max(1.0, float(np.ceil(piece.length_beats * 4) / 4))
    first = 4.0 * round(length / 3 / 4)  # two bars of 4/4 from the bar nearest a third of the piece
    default = (
        (min(first, length - 1.0), min(first + 8.0, length))
        if length > 12
        else (round(length / 3 * 4) / 4, round(2 * length / 3 * 4) / 4)
    )
    start, end = st.slider("Span to regenerate (beats)", 0.0, length, default, 0.25, help="Everything else stays.")
    inside = (piece.notes[:, 0] >= start) & (piece.notes[:, 0] < end)
    parts = [
        ("kept", Piece(piece.name, piece.notes[~inside]), 0.0),
        ("regenerated", Piece("span", piece.notes[inside]), 0.0),
    ]
    st.altair_chart(piano_roll_chart(parts), width="stretch", key="span-roll")
    st.caption(f"Orange: the notes of beats {start:g}-{end:g}, which the model writes again; grey: what stays.")
    return float(start), float(end)


def _dynamics(piece: Piece) -> str:
    """The caption's word on loudness: the velocity range and mean, when the notes have more than one."""
    v = piece.notes[:, 3] if piece.n_notes else np.zeros(0)
    if len(np.unique(v)) < 2:
        return ""
    return f" · dynamics: velocities {int(v.min())}-{int(v.max())} (mean {v.mean():.0f})"


def _downloads(name: str, midi: bytes, wav: bytes | None, key: str) -> None:
    """The MIDI and (when rendered) WAV download buttons of one result."""
    c1, c2, _ = st.columns([1, 1, 3])
    get = ":material/download:"
    c1.download_button("Download MIDI", midi, file_name=f"{name}.mid", mime="audio/midi", key=f"mid-{key}", icon=get)
    if wav is not None:
        c2.download_button("Download WAV", wav, file_name=f"{name}.wav", mime="audio/wav", key=f"wav-{key}", icon=get)


def _infilled(result: Infilling, i: int, tempo: float, program: int, copy: Copy) -> None:
    st.altair_chart(piano_roll_chart(result.parts(i)), width="stretch", key=f"infill-roll-{i}")
    st.caption(
        f"{result.middles[i].n_notes} new notes from {result.token_counts[i]} tokens in beats "
        f"{result.start:g}-{result.end:g}"
    )
    _originality(copy)
    wav = play(result.pieces[i].notes, tempo, program)
    _downloads(
        f"musegen-{result.run_id}-infill-v{i + 1}",
        midi_bytes(result.midi(i, tempo=tempo, program=program)),
        wav,
        f"i{i}",
    )


def _variation(comp: Composition, i: int, tempo: float, program: int, unit: str, copy: Copy) -> None:
    cont = comp.continuations[i]
    parts = [("seed", comp.seed.piece, 0.0), ("continuation", cont, comp.seed.end_beats)]
    st.altair_chart(piano_roll_chart(parts), width="stretch", key=f"roll-{i}")
    st.caption(f"{cont.n_notes} new notes from {comp.token_counts[i]} {unit}{_dynamics(cont)}")
    _originality(copy)
    wav = play(cont.notes, tempo, program, seed_notes=comp.seed.piece.notes, seed_end=comp.seed.end_beats)
    _downloads(f"musegen-{comp.run_id}-v{i + 1}", midi_bytes(comp.midi(i, tempo=tempo, program=program)), wav, f"{i}")


def _metrics(comp: Composition, run_dir: str) -> None:
    st.subheader("How it compares with the real music", anchor=False)
    real = _reference_stats(run_dir, model_stamp(run_dir))
    generated = [piece_stats(p) for p in comp.continuations]
    st.dataframe(pd.DataFrame(music_rows(generated, real)), hide_index=True, column_config=NUMBERS)
    if len(generated) < 2 or len(real) < 2:
        st.caption("Generate 2 or more variations to compare them with the real music as a set.")
        return
    try:
        comparison = compare_sets(generated, real)
    except MusegenError as exc:
        st.caption(f"No set comparison: {exc}")
        return
    st.markdown(
        f"**Overlap with the real music: {comparison.mean_overlap:.2f}** (1 = as close as real pieces are "
        "to each other; Yang & Lerch's overlapped area, mean over features)"
    )
    table = pd.DataFrame(comparison.rows())[["feature", "overlap", "kl_divergence", "inter_mean", "intra_real_mean"]]
    with st.expander("Per feature"):
        st.dataframe(table, hide_index=True)


st.title("Generate", anchor=False)
st.caption(
    "Pick a model and a seed passage; the model continues it, or fills in a span of it. Keep it to a key if you "
    "like. Listen, compare, see what was copied, download."
)
sid, lim = session_id(), Limits.from_env()
if not (choices := model_choices(runs_dir(), demo_dir(), sid)):
    stop_with(
        "No trained model yet: train one on the Train page, or build the bundled demo models with `make demo-models`.",
        ":material/model_training:",
        page="pages/2_Train.py",
        label="Train a model",
    )
index = next((i for i, c in enumerate(choices) if str(c.path) == st.session_state.get("train_run")), 0)
pick = st.selectbox("Model", choices, index=index, format_func=lambda c: c.label, key="model_pick")
task = CONTINUE  # what the page shows below when the model cannot even be opened
with friendly_errors("Pick another model, or train this one again."):
    composer = load_composer(pick.path)
    unit = composer.rep.unit_name
    nade = " · NADE head: each frame's keys are drawn low to high, each given the keys below it (chords as chords)"
    st.caption(run_summary(composer.run) + (nade if composer.config.model.head == "nade" else ""))
    fill = "Regenerate one span of a piece so that it leads from what comes before into what comes after."
    task = st.radio("Task", [CONTINUE, INFILL], horizontal=True, help=fill, key="task")
    if task == INFILL and not composer.can_infill:
        try:
            composer.rep.check_infill(composer.config.model)
        except MusegenError as exc:
            stop_with(f"{exc}", ":material/edit_note:")
    st.subheader("Piece to fill in" if task == INFILL else "Seed", anchor=False)
    last = st.session_state.get("composition")
    source = "seed"
    if task == INFILL and last is not None and last[0] == str(pick.path) and isinstance(last[1], Composition):
        options = ["A seed passage", *(f"Generated variation {i + 1}" for i in range(len(last[1].continuations)))]
        source = st.radio("Fill in", options, horizontal=True, help="A result of the last generation, or a seed.")
    if source.startswith("Generated"):
        piece = last[1].joined(int(source.split()[-1]) - 1)
        seed = None
    else:
        seed = _seed(composer, unit, whole=task == INFILL)
        piece = seed.piece
    if task == INFILL:
        span = _span(piece)
    else:
        st.altair_chart(piano_roll_chart([("seed", seed.piece, 0.0)]), width="stretch", key="seed-roll")
        with st.expander(f"Listen to the seed · {seed.label} · {seed.tempo:g} BPM"):
            play(seed.piece.notes, seed.tempo)
    st.subheader("Sampling", anchor=False)
    sampling, tempo, program = _sampling(
        lim,
        unit,
        composer.rep.unit_help(),
        float(piece.tempo),
        composer.rep.has_duration_tokens(),
        motif=(composer.motif_strength(), composer.figure_repetition())
        if task != INFILL and composer.rep.motif_skip_ids() is not None
        else None,
    )
    rules = _constraints(composer)
    if task == INFILL:
        if st.button("Fill in", type="primary", icon=":material/edit_note:"):
            with progress_bar("Filling in:", unit, every=16, start="Loading the model…") as progress:
                result = composer.infill(piece, *span, sampling, on_progress=progress, limits=lim, constraints=rules)
            st.session_state["infilling"] = (str(pick.path), result)
    elif st.button("Generate", type="primary", icon=":material/auto_awesome:"):
        with progress_bar("Generating:", unit, every=16, start="Loading the model…") as progress:
            comp = composer.compose(seed, sampling, on_progress=progress, limits=lim, constraints=rules)
        st.session_state["composition"] = (str(pick.path), comp, unit)

stamp = model_stamp(str(pick.path))
if task == INFILL:
    if (done := st.session_state.get("infilling")) is None or done[0] != str(pick.path):
        stop_with("Choose the span and the sampling, then press **Fill in**.", ":material/edit_note:")
    result = done[1]
    st.subheader("Results", anchor=False)
    made = f"{len(result.pieces)} variation(s) of beats {result.start:g}-{result.end:g} in {result.seconds:.1f} s"
    kept = describe(result.constraints) if result.constraints is not None and result.constraints.active else ""
    st.caption(f"{made}{' · ' + kept if kept else ''} · grey: kept, orange: new")
    with friendly_errors():
        copies = [_index(str(pick.path), stamp).longest_copy(result.placed(i)) for i in range(len(result.pieces))]
        for i, tab in enumerate(st.tabs([f"Variation {i + 1}" for i in range(len(result.pieces))])):
            with tab:
                _infilled(result, i, tempo, program, copies[i])
    st.stop()

if (result := st.session_state.get("composition")) is None or result[0] != str(pick.path):
    stop_with("Set the seed and the sampling, then press **Generate**.", ":material/auto_awesome:")
_, comp, unit = result
st.subheader("Results", anchor=False)
made = f"{len(comp.continuations)} variation(s) of {comp.sampling.length} {unit} in {comp.seconds:.1f} s"
st.caption(f"{made} · grey: the seed, orange: the model")
with friendly_errors():
    copies = [_index(str(pick.path), stamp).longest_copy(comp.placed(i)) for i in range(len(comp.continuations))]
    for i, tab in enumerate(st.tabs([f"Variation {i + 1}" for i in range(len(comp.continuations))])):
        with tab:
            _variation(comp, i, tempo, program, unit, copies[i])
    _metrics(comp, str(pick.path))
