"""Train page: choose an architecture and settings, start a background training, watch it live."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import streamlit as st

from musegen import runs
from musegen.config import ARCHITECTURES, DataConfig, RunConfig
from musegen.datasets.expression import what_it_learns
from musegen.errors import RunNotFoundError
from musegen.output.plots import loss_chart
from musegen.representations.registry import for_config
from musegen.training import sizing
from musegen.training.jobs import active_jobs, job_status, list_jobs, resume_training, start_training
from musegen.training.status import fmt_loss, notice, progress_line
from musegen.training.visibility import runs_dir, stop_run
from pages.common import current_dataset, friendly_errors, session_id, show_metrics

ICONS = dict(  # material icons of the job states
    queued="hourglass_top", running="directions_run", finished="check_circle", stopped="stop_circle", failed="error"
)


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
    else:
        base.data = dataclasses.replace(base.data, fim_rate=0.0)
    key = f"{start}-{arch}-{data.window}-"  # new defaults when the starting point, architecture or window change
    values = _inputs(sizing.TRAIN_SETTINGS, base, key)
    with st.expander("Advanced: model size and data split", icon=":material/tune:"):
        for row in sizing.ADVANCED_SETTINGS:
            values |= _inputs(row, base, key)
    config = sizing.with_settings(base, values)
    if config.data.representation != data.representation:
        st.caption(f":material/info: {arch} reads only {for_config(config.data).label}; the dataset is re-tokenized.")
    if note := sizing.window_note(config):
        st.caption(f":material/warning: {note}")
    st.caption(f":material/school: This run learns {what_it_learns(config.data)}.")
    return config, sizing.max_pieces(values)


def _monitor(run_dir: str, polling: bool) -> None:
    """The live view of one job: status, progress with ETA, loss chart, Stop; metrics at the end."""
    try:
        js = job_status(run_dir)
    except RunNotFoundError:
        st.session_state.pop("train_run", None)
        st.info("That training was deleted.")
        return
    if polling and not js.active:
        st.rerun()  # it just ended: redraw the whole page (Start comes back)
    head, stop_col = st.columns([4, 1])
    head.markdown(f"#### :material/{ICONS.get(js.state, 'help')}: {js.run_id} · {js.arch} · **{js.state}**")
    stop_help = "Stops within one batch and keeps the best model."
    if js.active and stop_col.button("Stop", icon=":material/stop:", key=f"stop-{js.run_id}", help=stop_help):
        with friendly_errors():
            stop_run(js.run_dir, session_id())
            st.toast("Stopping after the current batch…")
    if (say := notice(js)) is not None:
        if say.kind == "note":
            st.caption(say.text)
        else:
            (st.error if say.kind == "error" else st.info)(say.text, icon=f":material/{ICONS.get(js.state, 'help')}:")
        if say.hint:
            st.info(say.hint, icon=":material/lightbulb:")
    history = js.history
    resume_help = f"Continue from the last checkpoint ({runs.LAST}) to the run's number of epochs."
    resume = f"Resume from epoch {history.epochs_done + 1}"
    if js.resumable and st.button(resume, icon=":material/resume:", key=f"resume-{js.run_id}", help=resume_help):
        with friendly_errors():
            resume_training(js.run_dir, owner=session_id())
            st.rerun()
    if line := progress_line(js):
        st.progress(js.progress, text=line)
    if history.epochs:
        c1, c2, c3 = st.columns(3)
        c1.metric("Loss", fmt_loss(history.epochs[-1].loss))
        c2.metric("Validation loss", fmt_loss(history.epochs[-1].val_loss))
        c3.metric("Best", fmt_loss(history.best_value), help=f"at epoch {history.best_epoch}")
    if history.batches:
        st.altair_chart(loss_chart(history, height=300, unit=js.unit), width="stretch", key=f"chart-{js.run_id}")
    if js.state in ("finished", "stopped"):
        show_metrics(js.metrics)
        st.page_link("pages/3_Generate.py", label="Generate music with this model", icon=":material/piano:")


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
            st.fragment(run_every=2 if polling else None)(_monitor)(current, polling)

with st.container(border=True):
    st.markdown("##### New training")
    config, max_pieces = _settings(data_cfg)
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
