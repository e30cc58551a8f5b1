"""Generate page: pick a model and a seed, set the sampling, listen, compare, download."""

from __future__ import annotations

import streamlit as st

from musegen.config import Limits
from musegen.errors import MusegenError
from musegen.evaluation.report import run_summary
from musegen.generation.compose import Composer, Composition
from musegen.notes import Piece
from musegen.output.plots import piano_roll_chart
from musegen.steering.infill import infill_advice
from musegen.training.visibility import demo_dir, model_choices, runs_dir
from pages.common import composer as load_composer
from pages.common import friendly_errors, play, progress_bar, session_id, stop_with
from pages.generate_inputs import constraints_input, sampling_input, seed_input
from pages.generate_results import show_composition, show_infilling
from pages.generate_span import span_input
from pages.server import queue_note

CONTINUE, INFILL = "Continue a seed", "Fill in a passage"
NADE = " · NADE head: each frame's keys are drawn low to high, each given the keys below it (chords as chords)"


def _task(composer: Composer) -> str:
    """Continue or fill in; stops the page with the reason when the run cannot fill in."""
    fill = "Regenerate one span of a piece so that it leads from what comes before into what comes after."
    task = st.radio("Task", [CONTINUE, INFILL], horizontal=True, help=fill, key="task")
    if task == INFILL and not composer.can_infill:
        try:
            composer.rep.check_infill(composer.config.model)
        except MusegenError as exc:
            stop_with(f"{exc}", ":material/edit_note:")
    if task == INFILL and (advice := infill_advice(composer.config.model)):
        st.caption(f":material/info: {advice}")
    return task


def _music(composer: Composer, run_dir: str, task: str, unit: str):
    """The seed to continue, or the piece to fill in (a seed, or a variation of the last generation)."""
    st.subheader("Piece to fill in" if task == INFILL else "Seed", anchor=False)
    last = st.session_state.get("composition")
    if task == INFILL and last is not None and last[0] == run_dir and isinstance(last[1], Composition):
        options = ["A seed passage", *(f"Generated variation {i + 1}" for i in range(len(last[1].continuations)))]
        source = st.radio("Fill in", options, horizontal=True, help="A result of the last generation, or a seed.")
        if source.startswith("Generated"):
            return None, last[1].joined(int(source.split()[-1]) - 1)
    seed = seed_input(composer, unit, whole=task == INFILL)
    if task != INFILL:
        st.altair_chart(piano_roll_chart([("seed", seed.piece, 0.0)]), width="stretch", key="seed-roll")
        with st.expander(f"Listen to the seed · {seed.label} · {seed.tempo:g} BPM"):
            play(seed.piece.notes, seed.tempo)
    return seed, seed.piece


def _settings(composer: Composer, task: str, unit: str, piece: Piece, lim: Limits):
    """The sampling (with the tempo and the instrument) and the "Keep to" rules."""
    st.subheader("Sampling", anchor=False)
    remembers = task != INFILL and composer.rep.motif_skip_ids() is not None
    motif = (composer.motif_strength(), composer.figure_repetition()) if remembers else None
    durations = composer.rep.has_duration_tokens()
    sampling, tempo, program = sampling_input(lim, composer.rep, piece.tempo, durations, motif)
    return sampling, tempo, program, constraints_input(composer.rep.unit)


def _compose(run_dir: str, lim: Limits) -> tuple[float, int]:
    """Every input of the page, and the Generate (or Fill in) button; the tempo and the instrument chosen."""
    composer = load_composer(run_dir)
    unit = composer.rep.unit_name
    st.caption(run_summary(composer.run) + (NADE if composer.config.model.head == "nade" else ""))
    task = _task(composer)
    seed, piece = _music(composer, run_dir, task, unit)
    span = span_input(piece, composer.rep.span_unit) if task == INFILL else None
    sampling, tempo, program, rules = _settings(composer, task, unit, piece, lim)
    st.session_state["generate_task"] = task
    if span is not None:
        if st.button("Fill in", type="primary", icon=":material/edit_note:"):
            with (
                queue_note("Filling in") as wait,
                progress_bar("Filling in:", unit, 16, "Loading the model…") as progress,
            ):
                result = composer.infill(
                    piece, *span, sampling, on_progress=progress, limits=lim, constraints=rules, on_wait=wait
                )
            st.session_state["infilling"] = (run_dir, result)
    elif st.button("Generate", type="primary", icon=":material/auto_awesome:"):
        with queue_note("Generating") as wait, progress_bar("Generating:", unit, 16, "Loading the model…") as progress:
            comp = composer.compose(seed, sampling, on_progress=progress, limits=lim, constraints=rules, on_wait=wait)
        st.session_state["composition"] = (run_dir, comp, unit)
    return tempo, program


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
run_dir = str(pick.path)
st.session_state["generate_task"] = CONTINUE  # what the page shows below when the model cannot even be opened
tempo, program = 100.0, 0
with friendly_errors("Pick another model, or train this one again."):
    tempo, program = _compose(run_dir, lim)

if st.session_state["generate_task"] == INFILL:
    if (done := st.session_state.get("infilling")) is None or done[0] != run_dir:
        stop_with("Choose the span and the sampling, then press **Fill in**.", ":material/edit_note:")
    show_infilling(done[1], run_dir, tempo, program)
    st.stop()
if (result := st.session_state.get("composition")) is None or result[0] != run_dir:
    stop_with("Set the seed and the sampling, then press **Generate**.", ":material/auto_awesome:")
show_composition(result[1], run_dir, tempo, program, result[2])
