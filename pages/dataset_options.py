"""The Dataset page's token and window settings (display only): widgets in, the data settings out.

The rules behind the choices (windows overlapping by half, when the dynamics are learned) live in
:func:`musegen.training.session_data.data_choice`.
"""

from __future__ import annotations

import streamlit as st

from musegen.config import DataConfig, Limits
from musegen.output.instruments import PROGRAMS, program_names
from musegen.representations.registry import NAMES, get
from musegen.training.session_data import DYNAMICS_LABELS, FILTER_LABELS, GRID_LABELS, data_choice

REPRESENTATIONS = {name: get(name).label for name in NAMES}
HELP = {
    "representation": "How notes become the tokens a model reads. Performance timing keeps music played on a "
    "keyboard as it was played (10 ms steps); the timed tokens put onsets on a grid.",
    "grid": "Onsets and durations are rounded to this grid (timed tokens).",
    "instruments": "Which parts of each file are read (drums never).",
    "transpose": "Training pieces are also used transposed by every shift in this range (more data, any key).",
    "window": "Tokens of context per training example. The tutorial used 128; small windows train faster.",
    "dynamics": "Learn and play how loud each note is. Automatic: on when the files' velocities vary. "
    "Performance timing always has dynamics; the other representations have none.",
    "bins": "How finely loudness is told apart (MidiTok and Performance RNN use 32).",
    "pedal": "Notes sound on while the sustain pedal is down, as a listener hears them (otherwise they end "
    "where the key is let go, and a model learns staccato).",
}


def _reading() -> tuple[str, int, str, list[int]]:
    """The representation, the grid and which parts of the files are read."""
    d = DataConfig()
    c1, c2, c3 = st.columns(3)
    name = c1.selectbox(
        "Representation", NAMES, format_func=REPRESENTATIONS.get, help=HELP["representation"], key="representation"
    )
    grids = list(GRID_LABELS)
    grid = c2.selectbox(
        "Quantization grid",
        grids,
        index=grids.index(d.steps_per_beat),
        format_func=GRID_LABELS.get,
        help=HELP["grid"],
        disabled=not get(name).uses_grid,
    )
    instruments = c3.selectbox(
        "Instruments", list(FILTER_LABELS), format_func=FILTER_LABELS.get, help=HELP["instruments"]
    )
    programs: list[int] = []
    if instruments == "programs":
        programs = st.multiselect("General MIDI programs", PROGRAMS, [0], format_func=program_names().__getitem__)
    return name, int(grid), instruments, programs


def data_options(lim: Limits) -> tuple[DataConfig, bool]:
    """The data settings, and whether the dynamics are to be decided from the data."""
    d = DataConfig()
    with st.expander("Token and window settings", expanded=False, icon=":material/tune:"):
        name, grid, instruments, programs = _reading()
        c4, c5 = st.columns(2)
        transpose = c4.slider("Transposition augmentation (semitones)", -6, 6, d.transpose, help=HELP["transpose"])
        window = c5.number_input(
            "Window length (tokens)", min_value=8, max_value=2048, value=d.window, step=8, help=HELP["window"]
        )
        c6, c7, c8 = st.columns(3)
        timed, performance = get(name).dynamics == "optional", get(name).dynamics == "always"
        dynamics = c6.selectbox(
            "Dynamics (velocity)",
            list(DYNAMICS_LABELS),
            format_func=DYNAMICS_LABELS.get,
            help=HELP["dynamics"],
            disabled=not timed,
            key="dynamics",
        )
        fixed = not (timed or performance) or (timed and dynamics == "off")
        bins = c7.number_input("Velocity levels", 2, 127, d.velocity_bins, help=HELP["bins"], disabled=fixed)
        pedal = c8.checkbox("Sustain pedal", value=d.sustain_pedal, help=HELP["pedal"])
    sizes = f"{lim.max_upload_mb} MB per upload, {lim.max_files:,} files, {lim.max_file_mb} MB per MIDI file"
    st.caption(f"Limits: {sizes}.")
    return data_choice(
        representation=name,
        grid=grid,
        instruments=instruments,
        programs=programs,
        transpose=transpose,
        window=window,
        dynamics=dynamics,
        velocity_bins=bins,
        pedal=pedal,
    )
