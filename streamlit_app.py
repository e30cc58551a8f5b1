"""musegen: the Streamlit app. Navigation over pages/ and the home page.

Run with ``streamlit run streamlit_app.py`` (or ``make run``). This file and the home page
import no TensorFlow: the "Play a demo" button loads a model only when pressed.
"""

from __future__ import annotations

import streamlit as st

from musegen.training.jobs import active_jobs
from musegen.training.visibility import demo_dir, model_choices, runs_dir
from pages.common import current_dataset, session_id
from pages.home_demo import demo_section
from pages.server import keep_tensorflow_state


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
    demo_section()


def main() -> None:
    st.set_page_config(page_title="musegen", page_icon="🎹", layout="wide")
    keep_tensorflow_state()  # one process serves every session: no session's run clears the others' TensorFlow
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
