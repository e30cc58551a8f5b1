"""Generate page: pick a model and a seed, set the sampling, listen, compare, download."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from musegen.config import Limits, SamplingConfig
from musegen.errors import MusegenError
from musegen.evaluation.music import compare_sets, piece_stats
from musegen.evaluation.report import MUSIC_COLUMNS, music_rows, run_summary
from musegen.generation.compose import Composer, Composition, Seed
from musegen.output.instruments import PROGRAMS, program_names
from musegen.output.midi import midi_bytes
from musegen.output.plots import piano_roll_chart
from musegen.training.visibility import demo_dir, model_choices, model_stamp, runs_dir
from pages.common import composer as load_composer
from pages.common import friendly_errors, play, progress_bar, session_id, stop_with

FROM_DATA, RANDOM, UPLOAD = "A piece from the model's data", "A random passage", "My own MIDI file"
NUMBERS = {c.label: st.column_config.NumberColumn(format=c.format, help=c.help) for c in MUSIC_COLUMNS if c.format}


@st.cache_data(max_entries=8, show_spinner=False)
def _reference_stats(run_dir: str, stamp: float) -> list:
    return [piece_stats(p) for p in load_composer(run_dir).reference_pieces(24)]


def _seed(composer: Composer, unit: str) -> Seed:
    """The seed widgets; returns a Seed (or stops the page with a hint)."""
    window = composer.config.data.window
    mode = st.radio("Seed", [FROM_DATA, RANDOM, UPLOAD], horizontal=True, label_visibility="collapsed")
    c1, c2 = st.columns([3, 1])
    context = f"Context given to the model; it was trained on windows of {window} {unit}."
    length = int(c2.number_input(f"Seed length ({unit})", 1, 4 * window, min(64, window), help=context))
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


def _sampling(lim: Limits, unit: str, unit_help: str) -> tuple[SamplingConfig, float, int]:
    d = SamplingConfig()
    c1, c2, c3, c4 = st.columns(4)
    argmax = "Greedy always takes the most likely token (the tutorial's argmax); it tends to loop."
    greedy = c1.radio("Strategy", ["Sample", "Greedy"], help=argmax) == "Greedy"
    safer = "Below 1: safer and more repetitive; above 1: more surprising."
    temp = c2.slider("Temperature", 0.05, 2.0, d.temperature, 0.05, disabled=greedy, help=safer)
    top_k = c3.number_input("Top-k", 0, 1000, d.top_k, disabled=greedy, help="Draw from the k likeliest; 0 = off.")
    nucleus = "Draw from the smallest set holding this much probability; 1 = off."
    top_p = c4.slider("Top-p", 0.05, 1.0, d.top_p, 0.05, disabled=greedy, help=nucleus)
    c1, c2, c3, c4, c5 = st.columns([1, 1, 1, 1.2, 1.8])
    length = c1.number_input(f"Length ({unit})", 1, lim.max_generation_length, d.length, step=32, help=unit_help)
    seed = c2.number_input("Random seed", 0, 2**31 - 1, 0, help="The same seed gives the same music.")
    together = "Pieces generated together; 2 or more are compared with the real music as a set."
    variations = c3.number_input("Variations", 1, 8, 2, help=together)
    tempo = c4.slider("Tempo (BPM)", 40, 200, 100, 5)
    program = c5.selectbox("Instrument", PROGRAMS, format_func=program_names().__getitem__)
    cfg = SamplingConfig(
        length=length, temperature=temp, top_k=top_k, top_p=top_p, greedy=greedy, seed=seed, variations=variations
    )
    return cfg, float(tempo), int(program)


def _variation(comp: Composition, i: int, tempo: float, program: int, unit: str) -> None:
    cont = comp.continuations[i]
    parts = [("seed", comp.seed.piece, 0.0), ("continuation", cont, comp.seed.end_beats)]
    st.altair_chart(piano_roll_chart(parts), width="stretch", key=f"roll-{i}")
    st.caption(f"{cont.n_notes} new notes from {comp.token_counts[i]} {unit}")
    wav = play(cont.notes, tempo, program, seed_notes=comp.seed.piece.notes, seed_end=comp.seed.end_beats)
    name = f"musegen-{comp.run_id}-v{i + 1}"
    c1, c2, _ = st.columns([1, 1, 3])
    midi = midi_bytes(comp.midi(i, tempo=tempo, program=program))
    get = ":material/download:"
    c1.download_button("Download MIDI", midi, file_name=f"{name}.mid", mime="audio/midi", key=f"mid-{i}", icon=get)
    if wav is not None:
        c2.download_button("Download WAV", wav, file_name=f"{name}.wav", mime="audio/wav", key=f"wav-{i}", icon=get)


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
st.caption("Pick a model and a seed passage; the model continues it. Listen, compare, download.")
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
with friendly_errors("Pick another model, or train this one again."):
    composer = load_composer(pick.path)
    unit = composer.rep.unit_name
    nade = " · NADE head: each frame's keys are drawn low to high, each given the keys below it (chords as chords)"
    st.caption(run_summary(composer.run) + (nade if composer.config.model.head == "nade" else ""))
    st.subheader("Seed", anchor=False)
    seed = _seed(composer, unit)
    st.altair_chart(piano_roll_chart([("seed", seed.piece, 0.0)]), width="stretch", key="seed-roll")
    with st.expander(f"Listen to the seed · {seed.label}"):
        play(seed.piece.notes, 100.0)
    st.subheader("Sampling", anchor=False)
    sampling, tempo, program = _sampling(lim, unit, composer.rep.unit_help())
    if st.button("Generate", type="primary", icon=":material/auto_awesome:"):
        with progress_bar("Generating:", unit, every=16, start="Loading the model…") as progress:
            comp = composer.compose(seed, sampling, on_progress=progress, limits=lim)
        st.session_state["composition"] = (str(pick.path), comp, unit)

if (result := st.session_state.get("composition")) is None or result[0] != str(pick.path):
    stop_with("Set the seed and the sampling, then press **Generate**.", ":material/auto_awesome:")
_, comp, unit = result
st.subheader("Results", anchor=False)
made = f"{len(comp.continuations)} variation(s) of {comp.sampling.length} {unit} in {comp.seconds:.1f} s"
st.caption(f"{made} · grey: the seed, orange: the model")
with friendly_errors():
    for i, tab in enumerate(st.tabs([f"Variation {i + 1}" for i in range(len(comp.continuations))])):
        with tab:
            _variation(comp, i, tempo, program, unit)
    _metrics(comp, str(pick.path))
