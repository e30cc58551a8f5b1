"""musegen: the Streamlit app. Navigation over pages/ and the home page.

Run with ``streamlit run streamlit_app.py`` (or ``make run``). This file and the home page
import no TensorFlow: the "Play a demo" button loads a model only when pressed.
"""

from __future__ import annotations

import streamlit as st

from musegen.config import SamplingConfig
from musegen.generation.compose import Composition
from musegen.output.plots import piano_roll_chart
from musegen.training.jobs import active_jobs
from musegen.training.visibility import demo_dir, model_choices, runs_dir
from pages.common import composer as load_composer
from pages.common import current_dataset, friendly_errors, play, session_id

DEMO_TOKENS = 192  # about 20 seconds of music from a demo model


@st.cache_data(ttl=300, show_spinner=False)
def _sound_status() -> tuple[bool, str]:
    from musegen.output.audio import fluidsynth_status

    return fluidsynth_status()


def _status_section() -> None:
    st.subheader("State of things")
    c1, c2, c3 = st.columns(3)
    with c1, st.container(border=True):
        st.markdown("**:material/library_music: Dataset**")
        ds = current_dataset()
        if ds is None:
            st.markdown("Nothing loaded yet: trainings use the **built-in Bach chorales**.")
        else:
            st.markdown(f"**{ds.name}**: {len(ds.pieces)} pieces, {ds.n_notes:,} notes.")
        st.page_link("pages/1_Dataset.py", label="Choose a dataset", icon=":material/arrow_forward:")
    with c2, st.container(border=True):
        st.markdown("**:material/model_training: Models**")
        choices = model_choices(runs_dir(), demo_dir(), session_id())
        demos = sum(c.demo for c in choices)
        trained = len(choices) - demos
        running = len(active_jobs(runs_dir()))
        st.markdown(
            f"{demos} bundled demo model{'s' * (demos != 1)}, {trained} trained run{'s' * (trained != 1)}"
            + (f", **{running} training now**." if running else ".")
        )
        st.page_link("pages/2_Train.py", label="Train a model", icon=":material/arrow_forward:")
    with c3, st.container(border=True):
        st.markdown("**:material/speaker: Sound**")
        ok, message = _sound_status()
        if ok:
            st.markdown(f":green[:material/check_circle:] {message}")
        else:
            st.markdown(f":orange[:material/warning:] {message}")
            st.caption("Without FluidSynth, music plays with a plain sine-wave fallback.")


def _demo_section() -> None:
    st.subheader("Play a demo")
    demos = [c for c in model_choices(runs_dir(), demo_dir()) if c.demo]
    if not demos:
        st.info(
            f"The bundled demo models are not here yet (looked in `{demo_dir()}`). Build them with "
            "`make demo-models` (a few minutes on a laptop), or train your own on the Train page.",
            icon=":material/info:",
        )
        return
    left, right = st.columns([2, 1])
    with right:
        pick = st.selectbox("Demo model", demos, format_func=lambda c: c.label, key="demo_model")
        temperature = st.slider(
            "Temperature",
            0.5,
            1.5,
            0.8,
            0.05,
            help="Lower: safer, more repetitive music (0.8 measured closest to Bach).",
        )
        go = st.button("Play a demo", type="primary", icon=":material/play_arrow:")
    with left:
        st.markdown(
            "A small model trained on the Bach chorales continues a passage of a chorale it never saw. "
            "The grey notes are the real seed, the orange ones are the model's."
        )
        if go:
            with friendly_errors("Rebuild the demo models with `make demo-models`."), st.spinner("Composing…"):
                composer = load_composer(pick.path)
                seed = composer.random_seed(None, length=min(64, composer.config.data.window), held_out=True)
                # top-k 8 at temperature 0.8 came closest to the real chorales (BENCHMARKS.md, musical quality)
                sampling = SamplingConfig(length=DEMO_TOKENS, temperature=temperature, top_k=8)
                st.session_state["demo"] = (str(pick.path), composer.compose(seed, sampling))
                st.session_state.pop("demo_fill", None)
        if (shown := st.session_state.get("demo")) is not None:
            _demo_result(*shown, temperature)


def _demo_result(run_dir: str, comp: Composition, temperature: float) -> None:
    """The demo's piece, and a button that fills in two bars of it anew (the demo models learned to infill)."""
    parts = [("seed", comp.seed.piece, 0.0), ("continuation", comp.continuations[0], comp.seed.end_beats)]
    st.altair_chart(piano_roll_chart(parts), width="stretch")
    notes = comp.continuations[0].notes
    play(notes, 100.0, seed_notes=comp.seed.piece.notes, seed_end=comp.seed.end_beats)
    st.caption(f"{comp.seed.label} · generated in {comp.seconds:.1f} s by {comp.run_id}")
    with friendly_errors("Rebuild the demo models with `make demo-models`."):
        composer = load_composer(run_dir)
        if not composer.can_infill:
            return
        whole = comp.joined(0)
        middle = float(round(whole.length_beats / 2))
        start, end = max(0.0, middle - 4.0), middle + 4.0
        again = f"The model writes beats {start:g}-{end:g} again, leading from what comes before into what follows."
        if st.button("Fill in two bars anew", icon=":material/edit_note:", help=again):
            with st.spinner("Filling in…"):
                sampling = SamplingConfig(length=400, temperature=temperature, top_k=8)
                st.session_state["demo_fill"] = composer.infill(whole, start, end, sampling)
        if (fill := st.session_state.get("demo_fill")) is not None:
            st.altair_chart(piano_roll_chart(fill.parts(0)), width="stretch")
            play(fill.pieces[0].notes, 100.0)
            st.caption(
                f"Beats {fill.start:g}-{fill.end:g} filled in anew ({fill.middles[0].n_notes} notes): orange. "
                "More on the Generate page: any span, variations, a key to keep to."
            )


def home() -> None:
    st.title("musegen", anchor=False)
    st.markdown(
        "#### Train a neural network on MIDI music, then play with what it composes.\n"
        "Bring MIDI files (or use the built-in Bach chorales), train a **WaveNet** or an **LSTM** while the loss "
        "falls live, pick a seed passage and sampling settings, and listen to the new music rendered by "
        "**FluidSynth**. Fill in a passage you do not like, keep to a key, see what the model copied from its "
        "training pieces and where it is surprised. Download the MIDI and the audio."
    )
    steps = st.columns(4)
    for col, (page, icon, title, text) in zip(
        steps,
        [
            ("pages/1_Dataset.py", ":material/library_music:", "1 · Dataset", "Upload MIDI or a zip; see the notes."),
            ("pages/2_Train.py", ":material/model_training:", "2 · Train", "WaveNet or LSTM, live loss chart."),
            ("pages/3_Generate.py", ":material/piano:", "3 · Generate", "Continue or fill in, listen, download."),
            ("pages/4_Runs.py", ":material/monitoring:", "4 · Runs", "Compare loss curves and metrics."),
        ],
        strict=True,
    ):
        with col, st.container(border=True):
            st.page_link(page, label=f"**{title}**", icon=icon)
            st.caption(text)
    _status_section()
    _demo_section()


def main() -> None:
    st.set_page_config(page_title="musegen", page_icon="🎹", layout="wide")
    session_id()
    pages = [
        st.Page(home, title="Home", icon=":material/home:", default=True),
        st.Page("pages/1_Dataset.py", title="Dataset", icon=":material/library_music:"),
        st.Page("pages/2_Train.py", title="Train", icon=":material/model_training:"),
        st.Page("pages/3_Generate.py", title="Generate", icon=":material/piano:"),
        st.Page("pages/4_Runs.py", title="Runs", icon=":material/monitoring:"),
    ]
    st.navigation(pages).run()


main()
