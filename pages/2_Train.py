"""Train page: choose an architecture and settings, start a background training, watch it live."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import streamlit as st

from musegen.config import ARCHITECTURES, DataConfig, RunConfig
from musegen.datasets.expression import what_it_learns
from musegen.representations.registry import for_config
from musegen.steering.infill import infill_advice
from musegen.training import sizing
from musegen.training.jobs import active_jobs, job_status, list_jobs, start_training
from musegen.training.visibility import runs_dir
from pages.common import current_dataset, friendly_errors, session_id
from pages.train_base import base_choice
from pages.train_monitor import monitor


def _inputs(settings: tuple[sizing.Setting, ...], base: RunConfig, key: str) -> dict[str, float]:
    """One number input per setting, in a row; greyed out where the architecture ignores it."""
    arch = base.model.arch
    return {
        s.name: col.number_input(
            s.label,
            s.low,
            s.high,
            s.initial(base),
            step=s.step,
            format=s.format,
            key=key + s.name,
            help=s.help,
            disabled=arch not in s.archs,
        )
        for col, s in zip(st.columns(len(settings)), settings, strict=True)
    }


def _settings(data: DataConfig) -> tuple[RunConfig, int | None]:
    """The widgets of a new training; returns its config and the piece limit (None = all)."""
    c1, c2 = st.columns([1, 2])
    start = c1.selectbox(
        "Starting point", list(sizing.STARTS), format_func=sizing.STARTS.get, help="Fills in the settings below."
    )
    arch = c2.selectbox("Architecture", ARCHITECTURES, format_func=sizing.ARCH_LABELS.get)
    base = sizing.starting_config(start, arch, data)
    if len(heads := for_config(base.data).heads) > 1:  # piano-roll frames: keys on their own, or as chords
        base.model.head = st.radio(
            "Output head", heads, sizing.default_head(heads), sizing.HEAD_LABELS.get, help=sizing.HEAD_HELP
        )
    if sizing.can_learn_infilling(base):
        fim = st.checkbox("Also learn to fill in passages (infilling)", value=True, help=sizing.FIM_HELP)
        base.data = dataclasses.replace(base.data, fim_rate=sizing.FIM_RATE if fim else 0.0)
        if fim and (advice := infill_advice(base.model)):
            st.caption(f":material/info: {advice}")
    else:
        base.data = dataclasses.replace(base.data, fim_rate=0.0)
    key = f"{start}-{arch}-{data.window}-"  # new defaults when the starting point, architecture or window change
    values = _inputs(sizing.TRAIN_SETTINGS, base, key)
    with st.expander("Advanced: model size and data split", icon=":material/tune:"):
        for row in sizing.ADVANCED_SETTINGS:
            values |= _inputs(row, base, key)
    config = sizing.with_settings(base, values)
    if len(for_config(config.data).heads) > 1:  # piano rolls: an epoch of a large corpus can fill the time limit
        config = sizing.with_selection(config, st.checkbox(sizing.SELECTION_LABEL, False, help=sizing.SELECTION_HELP))
    if config.data.representation != data.representation:
        st.caption(f":material/info: {arch} reads only {for_config(config.data).label}; the dataset is re-tokenized.")
    if note := sizing.window_note(config):
        st.caption(f":material/warning: {note}")
    st.caption(f":material/school: This run learns {what_it_learns(config.data)}.")
    return config, sizing.max_pieces(values)


st.title("Train", anchor=False)
st.caption("Training runs in the background: switch pages or reload, it keeps going; come back to watch.")
sid, folder = session_id(), runs_dir()
ds = current_dataset()
data_cfg = ds.data if ds is not None else DataConfig()
if ds is None:
    st.info(
        "No dataset chosen yet: this trains on the **built-in Bach chorales** (choose another on the Dataset page).",
        icon=":material/library_music:",
    )
else:
    st.markdown(
        f"**Dataset:** {ds.name} · {len(ds.pieces)} pieces · {data_cfg.representation} {for_config(data_cfg).units} · "
        f"window {data_cfg.window} (set on the Dataset page)"
    )

mine = list_jobs(folder, owner=sid)
current = st.session_state["train_run"] = st.session_state.get("train_run") or (str(mine[0].run_dir) if mine else None)
if current and Path(current).is_dir():
    with friendly_errors():
        polling = job_status(current).active
        with st.container(border=True):
            st.fragment(run_every=2 if polling else None)(monitor)(current, polling)

with st.container(border=True):
    st.markdown("##### New training")
    tuned = base_choice()
    config, max_pieces = (tuned, None) if tuned is not None else _settings(data_cfg)
    running_mine = [j for j in mine if j.active]
    if running_mine:
        st.caption(f":material/info: Your training {running_mine[0].run_id} is still going: stop it to start another.")
    if st.button("Start training", type="primary", icon=":material/play_arrow:", disabled=bool(running_mine)):
        with friendly_errors("Change the settings and try again."):
            if ds is not None:
                config.dataset_name = ds.name
            run_dir = start_training(config, ds.data_paths if ds else [], folder, owner=sid, max_pieces=max_pieces)
            st.session_state["train_run"] = str(run_dir)
            st.rerun()

if others := [j for j in active_jobs(folder) if j.owner != sid]:
    st.caption(f"{len(others)} other training(s) running on this server: see the Runs page.")
