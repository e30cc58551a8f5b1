"""Generate page: pick a model and a seed, set the sampling, listen, compare, download."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from musegen.config import Limits, SamplingConfig
from musegen.errors import MusegenError
from musegen.metrics import compare_sets, piece_stats
from musegen.plots import piano_roll_chart
from ui.common import composer as load_composer
from ui.common import friendly_errors, limits, model_choices, play, session_id

FROM_DATA, RANDOM, UPLOAD = "A piece from the model's data", "A random passage", "My own MIDI file"
STAT_COLUMNS = {
    "n_notes": "notes",
    "scale_consistency": "in scale",
    "best_scale": "key",
    "pitch_class_entropy": "pitch-class entropy",
    "polyphony": "polyphony",
    "pitch_range": "range",
    "distinct_ngram_ratio": "distinct 4-grams",
    "longest_repeat_share": "longest repeat",
}


@st.cache_data(max_entries=8, show_spinner=False)
def _reference_stats(run_dir: str, stamp: float) -> list:
    return [piece_stats(p) for p in load_composer(run_dir).reference_pieces(24)]


@st.cache_data(show_spinner=False)
def _programs() -> list[str]:
    import pretty_midi

    return [f"{p} · {pretty_midi.program_to_instrument_name(p)}" for p in range(128)]


def _units(composer) -> tuple[str, str]:
    """What one step of this model is called, and what it means in music (for labels and help)."""
    data = composer.config.data
    if composer.frames:
        return "frames", f"Piano-roll frames: one per 1/{data.steps_per_beat} beat, every key on or off."
    if data.representation == "classic":
        return "events", "The tutorial's events: one note or chord each, every one half a beat long."
    return "tokens", "Timed tokens: about three per note (time shift, pitch, duration)."


def _seed(composer, unit: str):
    """The seed widgets; returns a Seed (or stops the page with a hint)."""
    window = composer.config.data.window
    mode = st.radio("Seed", [FROM_DATA, RANDOM, UPLOAD], horizontal=True, label_visibility="collapsed")
    c1, c2 = st.columns([3, 1])
    length = c2.number_input(
        f"Seed length ({unit})",
        1,
        4 * window,
        min(64, window),
        help=f"Context given to the model; it was trained on windows of {window} {unit}.",
    )
    if mode == FROM_DATA:
        pieces = composer.pieces()
        if not pieces:
            st.info("This model stores no pieces; choose a random passage or upload a MIDI file.")
            st.stop()
        index = c1.selectbox(
            "Piece",
            range(len(pieces)),
            format_func=lambda i: pieces[i][0],
            help="Held-out pieces come first: the model never trained on them.",
        )
        start = st.slider(
            f"Start at {unit[:-1]}", 0, max(0, len(pieces[index][1]) - 1), 0, help="Where in the piece the seed begins."
        )
        return composer.seed_from_piece(index, start, int(length))
    if mode == RANDOM:
        number = c1.number_input("Passage number", 0, 1_000_000, 0, help="Each number picks another passage.")
        return composer.random_seed(int(number), int(length))
    upload = c1.file_uploader("Seed MIDI file", type=["mid", "midi"], key="seed_upload")
    if upload is None:
        st.info("Upload a MIDI file to continue, or pick another kind of seed.", icon=":material/upload_file:")
        st.stop()
    return composer.seed_from_midi(upload.getvalue(), upload.name, int(length))


def _sampling(lim: Limits, unit: str, unit_help: str) -> tuple[SamplingConfig, float, int]:
    d = SamplingConfig()
    c1, c2, c3, c4 = st.columns(4)
    greedy = (
        c1.radio(
            "Strategy",
            ["Sample", "Greedy"],
            help="Greedy always takes the most likely token (the tutorial's argmax); it tends to loop.",
        )
        == "Greedy"
    )
    temperature = c2.slider(
        "Temperature",
        0.05,
        2.0,
        d.temperature,
        0.05,
        disabled=greedy,
        help="Below 1: safer and more repetitive; above 1: more surprising.",
    )
    top_k = c3.number_input("Top-k", 0, 1000, d.top_k, disabled=greedy, help="Draw from the k likeliest; 0 = off.")
    top_p = c4.slider(
        "Top-p",
        0.05,
        1.0,
        d.top_p,
        0.05,
        disabled=greedy,
        help="Draw from the smallest set holding this much probability; 1 = off.",
    )
    c1, c2, c3, c4, c5 = st.columns([1, 1, 1, 1.2, 1.8])
    length = c1.number_input(f"Length ({unit})", 1, lim.max_generation_length, d.length, step=32, help=unit_help)
    seed = c2.number_input("Random seed", 0, 2**31 - 1, 0, help="The same seed gives the same music.")
    variations = c3.number_input(
        "Variations", 1, 8, 2, help="Pieces generated together; 2 or more are compared with the real music as a set."
    )
    tempo = c4.slider("Tempo (BPM)", 40, 200, 100, 5)
    programs = _programs()
    program = c5.selectbox("Instrument", range(128), format_func=lambda p: programs[p])
    cfg = SamplingConfig(
        length=int(length),
        temperature=float(temperature),
        top_k=int(top_k),
        top_p=float(top_p),
        greedy=greedy,
        seed=int(seed),
        variations=int(variations),
    )
    return cfg, float(tempo), int(program)


def _variation(comp, i: int, tempo: float, program: int, unit: str) -> None:
    cont = comp.continuations[i]
    parts = [("seed", comp.seed.piece, 0.0), ("continuation", cont, comp.seed.end_beats)]
    st.altair_chart(piano_roll_chart(parts), width="stretch", key=f"roll-{i}")
    st.caption(f"{cont.n_notes} new notes from {comp.token_counts[i]} {unit}")
    wav = play(cont.notes, tempo, program, seed_notes=comp.seed.piece.notes, seed_end=comp.seed.end_beats)
    from musegen.midi_out import midi_bytes

    c1, c2, _ = st.columns([1, 1, 3])
    c1.download_button(
        "Download MIDI",
        midi_bytes(comp.midi(i, tempo=tempo, program=program)),
        file_name=f"musegen-{comp.run_id}-v{i + 1}.mid",
        mime="audio/midi",
        icon=":material/download:",
        key=f"mid-{i}",
    )
    if wav is not None:
        c2.download_button(
            "Download WAV",
            wav,
            file_name=f"musegen-{comp.run_id}-v{i + 1}.wav",
            mime="audio/wav",
            icon=":material/download:",
            key=f"wav-{i}",
        )


def _metrics(comp, run_dir: str, stamp: float) -> None:
    st.subheader("How it compares with the real music", anchor=False)
    real = _reference_stats(run_dir, stamp)
    generated = [piece_stats(p) for p in comp.continuations]
    rows = [{"piece": s.name, **{label: getattr(s, k) for k, label in STAT_COLUMNS.items()}} for s in generated]
    if real:
        mean = {
            label: sum(getattr(s, k) for s in real) / len(real)
            for k, label in STAT_COLUMNS.items()
            if k != "best_scale"
        }
        rows.append({"piece": f"real music (mean of {len(real)})", **mean, "key": ""})
    st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        column_config={
            "in scale": st.column_config.NumberColumn(format="%.2f", help="share of notes in the best-fitting scale"),
            "pitch-class entropy": st.column_config.NumberColumn(
                format="%.2f", help="bits; higher = more pitch classes"
            ),
            "polyphony": st.column_config.NumberColumn(format="%.2f", help="mean notes sounding at once"),
            "distinct 4-grams": st.column_config.NumberColumn(format="%.2f", help="low = loops"),
            "longest repeat": st.column_config.NumberColumn(
                format="%.2f", help="share of the longest repeated segment"
            ),
            "notes": st.column_config.NumberColumn(format="%d"),
            "range": st.column_config.NumberColumn(format="%d"),
        },
    )
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
sid, lim = session_id(), limits()
choices = model_choices(sid)
if not choices:
    st.info(
        "No trained model yet: train one on the Train page, or build the bundled demo models with `make demo-models`.",
        icon=":material/model_training:",
    )
    st.page_link("pages/2_Train.py", label="Train a model", icon=":material/arrow_forward:")
    st.stop()
paths = [str(c.path) for c in choices]
wanted = st.session_state.get("train_run")
pick = st.selectbox(
    "Model",
    choices,
    index=paths.index(wanted) if wanted in paths else 0,
    format_func=lambda c: c.label,
    key="model_pick",
)
with friendly_errors("Pick another model, or train this one again."):
    composer = load_composer(pick.path)
    cfg = composer.config
    unit, unit_help = _units(composer)
    best = composer.run.best_val_loss
    st.caption(
        f"{cfg.model.arch} · {cfg.data.representation} {unit} · window {cfg.data.window} · trained on "
        f"{cfg.dataset_name} · {composer.run.epochs_done} epochs"
        + (f" · best loss {best:.3f}" if best is not None else "")
    )

    st.subheader("Seed", anchor=False)
    seed = _seed(composer, unit)
    st.altair_chart(piano_roll_chart([("seed", seed.piece, 0.0)]), width="stretch", key="seed-roll")
    with st.expander(f"Listen to the seed · {seed.label}"):
        play(seed.piece.notes, 100.0)

    st.subheader("Sampling", anchor=False)
    sampling, tempo, program = _sampling(lim, unit, unit_help)
    if st.button("Generate", type="primary", icon=":material/auto_awesome:"):
        bar = st.progress(0.0, text="Loading the model…")

        def progress(done: int, total: int) -> None:
            if done % 16 == 0 or done == total:
                bar.progress(done / total, text=f"Generating: {done}/{total} {unit}")

        comp = composer.compose(seed, sampling, on_progress=progress, limits=lim)
        bar.empty()
        st.session_state["composition"] = (str(pick.path), comp, unit)

result = st.session_state.get("composition")
if result is None or result[0] != str(pick.path):
    st.info("Set the seed and the sampling, then press **Generate**.", icon=":material/auto_awesome:")
    st.stop()
comp, unit = result[1], result[2]
st.subheader("Results", anchor=False)
st.caption(
    f"{len(comp.continuations)} variation(s) of {comp.sampling.length} {unit} in {comp.seconds:.1f} s · "
    f"grey: the seed, orange: the model"
)
with friendly_errors():
    tabs = st.tabs([f"Variation {i + 1}" for i in range(len(comp.continuations))])
    for i, tab in enumerate(tabs):
        with tab:
            _variation(comp, i, tempo, program, unit)
    model_file = pick.path / "model.keras"
    _metrics(comp, str(pick.path), model_file.stat().st_mtime if model_file.is_file() else 0.0)
