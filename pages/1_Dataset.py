"""Dataset page: upload MIDI (or pick the built-in chorales), choose the token settings, look at the music."""

from __future__ import annotations

import dataclasses

import pandas as pd
import streamlit as st

from musegen.config import DataConfig, Limits
from musegen.datasets.expression import Expression, expression_of, suggested, what_it_learns
from musegen.datasets.stats import DatasetStats, dataset_stats, headline
from musegen.output.instruments import PROGRAMS, program_names
from musegen.output.plots import (
    duration_histogram_chart,
    piano_roll_chart,
    pitch_histogram_chart,
    pitch_name,
    velocity_histogram_chart,
)
from musegen.representations.registry import NAMES, for_played_music, get
from musegen.training.session_data import FILTER_LABELS, GRID_LABELS, LoadedDataset, load_dataset
from musegen.training.visibility import runs_dir
from pages.common import current_dataset, friendly_errors, md_escape, play, progress_bar, session_id, stop_with

BUILTIN, UPLOAD = "Built-in Bach chorales", "Upload MIDI files"
NO_DATA = "Upload MIDI files or pick the built-in corpus."
GRID_HELP = (
    "The share of onsets within a tenth of a sixteenth of the grid under each file's own tempo map (median over "
    "files). Written music is near 100%; music played on a keyboard without a tempo map is far lower."
)
REPRESENTATIONS = {name: get(name).label for name in NAMES}
DYNAMICS = {"auto": "automatic (from the files)", "on": "learn dynamics", "off": "one loudness"}


@st.cache_data(max_entries=16, show_spinner=False)
def _expression(key: str, _pieces: list) -> Expression:
    return expression_of(_pieces)


def _use_performance() -> None:
    st.session_state["representation"] = for_played_music()


@st.cache_data(max_entries=16, show_spinner=False)
def _stats(key: str, data: DataConfig, _pieces: list) -> DatasetStats:
    return dataset_stats(_pieces, data)


def _options(lim: Limits) -> tuple[DataConfig, bool]:
    """The data settings, and whether the dynamics are to be decided from the data."""
    d = DataConfig()
    with st.expander("Token and window settings", expanded=False, icon=":material/tune:"):
        c1, c2, c3 = st.columns(3)
        name = c1.selectbox(
            "Representation",
            NAMES,
            format_func=REPRESENTATIONS.get,
            help="How notes become the tokens a model reads. Performance timing keeps music played on a keyboard "
            "as it was played (10 ms steps); the timed tokens put onsets on a grid.",
            key="representation",
        )
        grid = c2.selectbox(
            "Quantization grid",
            list(GRID_LABELS),
            index=list(GRID_LABELS).index(d.steps_per_beat),
            format_func=GRID_LABELS.get,
            help="Onsets and durations are rounded to this grid (timed tokens).",
            disabled=not get(name).uses_grid,
        )
        instruments = c3.selectbox(
            "Instruments",
            list(FILTER_LABELS),
            format_func=FILTER_LABELS.get,
            help="Which parts of each file are read (drums never).",
        )
        programs: list[int] = []
        if instruments == "programs":
            programs = st.multiselect("General MIDI programs", PROGRAMS, [0], format_func=program_names().__getitem__)
        c4, c5 = st.columns(2)
        transpose = c4.slider(
            "Transposition augmentation (semitones)",
            -6,
            6,
            d.transpose,
            help="Training pieces are also used transposed by every shift in this range (more data, any key).",
        )
        window = c5.number_input(
            "Window length (tokens)",
            min_value=8,
            max_value=2048,
            value=d.window,
            step=8,
            help="Tokens of context per training example. The tutorial used 128; small windows train faster.",
        )
        c6, c7, c8 = st.columns(3)
        timed, performance = get(name).dynamics == "optional", get(name).dynamics == "always"
        dynamics = c6.selectbox(
            "Dynamics (velocity)",
            list(DYNAMICS),
            format_func=DYNAMICS.get,
            help="Learn and play how loud each note is. Automatic: on when the files' velocities vary. "
            "Performance timing always has dynamics; the other representations have none.",
            disabled=not timed,
            key="dynamics",
        )
        bins = c7.number_input(
            "Velocity levels",
            2,
            127,
            d.velocity_bins,
            help="How finely loudness is told apart (MidiTok and Performance RNN use 32).",
            disabled=not (timed or performance) or (timed and dynamics == "off"),
        )
        pedal = c8.checkbox(
            "Sustain pedal",
            value=d.sustain_pedal,
            help="Notes sound on while the sustain pedal is down, as a listener hears them (otherwise they end "
            "where the key is let go, and a model learns staccato).",
        )
    sizes = f"{lim.max_upload_mb} MB per upload, {lim.max_files:,} files, {lim.max_file_mb} MB per MIDI file"
    st.caption(f"Limits: {sizes}.")
    return DataConfig(
        representation=name,
        steps_per_beat=int(grid),
        instrument_filter=instruments,
        programs=tuple(int(p) for p in programs),
        transpose=(int(transpose[0]), int(transpose[1])),
        window=int(window),
        stride=max(1, int(window) // 2),  # windows overlap by half
        velocity=timed and dynamics == "on",
        velocity_bins=int(bins),
        sustain_pedal=bool(pedal),
    ), dynamics == "auto" and timed


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
    play(piece.notes, float(min(max(piece.tempo or 100.0, 40.0), 240.0)))


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
cfg, auto_dynamics = _options(lim)
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
