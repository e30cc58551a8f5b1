"""Dataset page: upload MIDI (or pick the built-in chorales), choose the token settings, look at the music."""

from __future__ import annotations

import dataclasses

import pandas as pd
import streamlit as st

from musegen.config import DataConfig, Limits, clamp_tempo
from musegen.datasets.expression import Expression, expression_of, suggested, what_it_learns
from musegen.datasets.stats import DatasetStats, dataset_stats, headline
from musegen.notes import pitch_name
from musegen.output.plots import (
    duration_histogram_chart,
    piano_roll_chart,
    pitch_histogram_chart,
    velocity_histogram_chart,
)
from musegen.representations.registry import for_played_music
from musegen.training.session_data import LoadedDataset, load_dataset
from musegen.training.visibility import runs_dir
from pages.common import current_dataset, friendly_errors, md_escape, play, progress_bar, session_id, stop_with
from pages.dataset_options import data_options

BUILTIN, UPLOAD = "Built-in Bach chorales", "Upload MIDI files"
NO_DATA = "Upload MIDI files or pick the built-in corpus."
GRID_HELP = (
    "The share of onsets within a tenth of a sixteenth of the grid under each file's own tempo map (median over "
    "files). Written music is near 100%; music played on a keyboard without a tempo map is far lower."
)


@st.cache_data(max_entries=16, show_spinner=False)
def _expression(key: str, _pieces: list) -> Expression:
    return expression_of(_pieces)


def _use_performance() -> None:
    st.session_state["representation"] = for_played_music()


@st.cache_data(max_entries=16, show_spinner=False)
def _stats(key: str, data: DataConfig, _pieces: list) -> DatasetStats:
    return dataset_stats(_pieces, data)


def _file_table(ds: LoadedDataset) -> None:
    st.subheader("Files", anchor=False)
    table = pd.DataFrame(ds.file_rows())
    height = min(36 * len(table) + 38, 300)
    if ds.n_used < len(ds.results):
        st.warning(ds.file_summary(escape=md_escape), icon=":material/warning:")
        st.dataframe(table, hide_index=True, height=height, key="file_table")
        return
    st.success(ds.file_summary(), icon=":material/check_circle:")
    with st.expander(f"The {len(table):,} files"):
        st.dataframe(table.drop(columns="reason"), hide_index=True, height=height, key="file_table")


def _statistics(ds: LoadedDataset) -> None:
    st.subheader("Statistics", anchor=False)
    stats = _stats(ds.key, ds.data, ds.pieces)
    cols = st.columns(5)
    for col, figure in zip(cols, headline(stats, ds.data), strict=False):
        col.metric(figure.label, figure.value, help=figure.help or None)
    lo, hi = stats.pitch_range
    cols[4].metric("Pitch range", f"{pitch_name(lo)}–{pitch_name(hi)}", help=f"MIDI {lo}–{hi}")
    left, right = st.columns(2)
    left.altair_chart(pitch_histogram_chart(stats.pitch_histogram), width="stretch")
    right.altair_chart(duration_histogram_chart(stats.duration_histogram), width="stretch")


def _playing(ds: LoadedDataset, expression: Expression) -> None:
    """How the files are played (dynamics, timing), what a run on them will learn, and advice."""
    st.subheader("Playing", anchor=False)
    played = for_played_music()
    if expression.looks_unquantized and played is not None and ds.data.representation != played:
        st.warning(expression.timing_message(), icon=":material/timer:")
        st.button("Use performance timing", on_click=_use_performance, icon=":material/piano:")
    c1, c2, c3 = st.columns(3)
    c1.metric("On the grid", f"{100 * expression.grid_fit:.0f}%", help=GRID_HELP)
    c2.metric("Velocity mean", f"{expression.velocity_mean:.0f}", help="MIDI velocity, 1-127, over all notes.")
    c3.metric("Velocity spread", f"{expression.velocity_spread:.1f}", help="Standard deviation of the velocities.")
    st.caption(f"{expression.dynamics_message()} A run on this data learns {what_it_learns(ds.data)}.")
    if expression.notes:
        stats = _stats(ds.key, ds.data, ds.pieces)
        st.altair_chart(velocity_histogram_chart(stats.velocity_histogram), width="stretch")


def _explore(ds: LoadedDataset) -> None:
    st.subheader("Listen to a piece", anchor=False)
    index = st.selectbox("Piece", range(len(ds.pieces)), format_func=lambda i: ds.pieces[i].name, key="explore_piece")
    piece = ds.pieces[index]
    lo, hi = piece.pitch_range()
    st.caption(f"{piece.n_notes} notes · {piece.length_beats:.0f} beats · {pitch_name(lo)}–{pitch_name(hi)}")
    st.altair_chart(piano_roll_chart([("notes", piece, 0.0)]), width="stretch")
    play(piece.notes, clamp_tempo(piece.tempo))


st.title("Dataset", anchor=False)
st.caption("Bring MIDI music to learn from, or use the 371 Bach chorales that ship with musegen.")
lim = Limits.from_env()
source = st.radio("Source", [BUILTIN, UPLOAD], horizontal=True, key="source", label_visibility="collapsed")
uploads = []
if source == UPLOAD:
    uploads = st.file_uploader(
        "MIDI files (.mid, .midi) or .zip archives of them",
        type=["mid", "midi", "zip"],
        accept_multiple_files=True,
        help="Every file is checked: bad ones are listed with the reason and the others are used.",
        key="uploads",
    )
cfg, auto_dynamics = data_options(lim)
with friendly_errors(), progress_bar("Reading") as progress:
    cfg.validate()
    if source == UPLOAD and not uploads:
        stop_with(NO_DATA, ":material/upload_file:")
    files = [(f.name, f.getvalue()) for f in uploads] if source == UPLOAD else []
    current = current_dataset()
    ds = load_dataset(files, cfg, runs_dir(), session_id(), limits=lim, current=current, on_progress=progress)
    expression = _expression(ds.key, ds.pieces)
    if auto_dynamics:  # velocity tokens where the files have dynamics
        ds = dataclasses.replace(ds, data=suggested(ds.data, expression))
    st.session_state["dataset"] = ds
ds = current_dataset()
if ds is None or (source == UPLOAD) == ds.builtin:
    stop_with(NO_DATA, ":material/upload_file:")
_file_table(ds)
if not ds.pieces:
    st.error("No usable MIDI file: see the reasons above. Bring .mid/.midi files with pitched (non-drum) notes.")
    st.stop()
with friendly_errors("Try other token settings, or other files."):
    _statistics(ds)
    _playing(ds, expression)
    _explore(ds)
st.page_link("pages/2_Train.py", label="Next: train a model on this dataset", icon=":material/arrow_forward:")
