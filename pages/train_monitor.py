"""The Train page's live view of one training (display only): its state, progress with ETA, loss chart, Stop
and Resume, and the held-out metrics once it ends. Drawn in a fragment that reruns every two seconds while the
job is active."""

from __future__ import annotations

import streamlit as st

from musegen import runs
from musegen.errors import RunNotFoundError
from musegen.output.plots import loss_chart
from musegen.training.jobs import job_status, resume_training
from musegen.training.status import fmt_loss, notice, progress_line
from musegen.training.visibility import stop_run
from pages.common import friendly_errors, session_id, show_metrics

ICONS = dict(  # material icons of the job states
    queued="hourglass_top", running="directions_run", finished="check_circle", stopped="stop_circle", failed="error"
)


def monitor(run_dir: str, polling: bool) -> None:
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
    if history.epochs or history.evals:  # validations within epochs come before the first epoch ends
        last = history.evals[-1].val_loss if history.evals else history.epochs[-1].val_loss
        c1, c2, c3 = st.columns(3)
        c1.metric("Loss", fmt_loss(history.epochs[-1].loss if history.epochs else history.batches[-1].loss))
        c2.metric("Validation loss", fmt_loss(last))
        at = f"{history.best_at:.2f}" if history.best_at is not None else history.best_epoch
        c3.metric("Best", fmt_loss(history.best_value), help=f"at epoch {at}")
    if history.batches:
        st.altair_chart(loss_chart(history, height=300, unit=js.unit), width="stretch", key=f"chart-{js.run_id}")
    if js.state in ("finished", "stopped"):
        show_metrics(js.metrics)
        st.page_link("pages/3_Generate.py", label="Generate music with this model", icon=":material/piano:")
