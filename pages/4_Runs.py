"""Runs page: every training with its status, settings and metrics; loss curves compared; delete."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from musegen import runs
from musegen.jobs import check_owner, run_owner, visible_to
from musegen.plots import runs_loss_chart
from ui.common import demo_dir, friendly_errors, runs_dir, session_id, show_metrics


def _row(info: runs.RunInfo, demo: bool) -> dict:
    cfg, metrics = info.config, info.metrics or {}
    model, base = metrics.get("model", {}), metrics.get("baseline", {})
    return {
        "run": info.run_id,
        "status": "demo" if demo else info.status,
        "model": f"{cfg.model.arch} · {cfg.data.representation}" if cfg else "",
        "dataset": cfg.dataset_name if cfg else "",
        "epochs": info.epochs_done,
        "best loss": info.best_val_loss,
        "held-out NLL": model.get("nll"),
        "accuracy": model.get("accuracy"),
        "n-gram NLL": base.get("nll"),
        "beats n-gram": metrics.get("beats_baseline"),
    }


st.title("Runs", anchor=False)
st.caption(
    "Your trainings, the shared runs and the bundled demos: settings, held-out metrics, loss curves "
    "(WaveNet against LSTM). Other people's trainings on this server stay private to them."
)
folder, sid = runs_dir(), session_id()
trained, demos = [], []
with friendly_errors("A run folder may be damaged; delete it below."):
    trained = [r for r in runs.list_runs(folder) if visible_to(r.path, sid)]
    demos = [r for r in runs.list_runs(demo_dir()) if r.config is not None]
everything = [(r, False) for r in trained] + [(r, True) for r in demos]
if not everything:
    st.info("No runs yet. Start a training on the Train page.", icon=":material/model_training:")
    st.page_link("pages/2_Train.py", label="Train a model", icon=":material/arrow_forward:")
    st.stop()

table = pd.DataFrame([_row(r, demo) for r, demo in everything])
st.dataframe(
    table,
    hide_index=True,
    column_config={
        "run": st.column_config.TextColumn(width="medium"),
        "beats n-gram": st.column_config.CheckboxColumn(help="lower held-out NLL than the n-gram baseline"),
        "best loss": st.column_config.NumberColumn(format="%.4f", help="best validation loss during training"),
        "held-out NLL": st.column_config.NumberColumn(format="%.4f", help="nats per token on held-out pieces"),
        "accuracy": st.column_config.NumberColumn(format="%.3f"),
        "n-gram NLL": st.column_config.NumberColumn(format="%.4f", help="the n-gram baseline on the same tokens"),
    },
    key="runs_table",
)

st.subheader("Loss curves", anchor=False)
with_history = [r for r, _ in everything if r.history.get("epochs")]
by_id = {r.run_id: r for r, _ in everything}
c1, c2 = st.columns([3, 1])
chosen = c1.multiselect(
    "Runs to compare", [r.run_id for r in with_history], default=[r.run_id for r in with_history][:4], key="compare"
)
metric = c2.radio(
    "Curve", ["val_loss", "loss"], format_func={"val_loss": "validation", "loss": "training"}.get, horizontal=True
)
if chosen:
    st.altair_chart(runs_loss_chart({rid: by_id[rid].history for rid in chosen}, metric=metric), width="stretch")
else:
    st.caption("Pick runs that have finished at least one epoch.")

st.subheader("Details", anchor=False)
pick = st.selectbox("Run", [r.run_id for r, _ in everything], key="detail_run")
info, demo = next((r, d) for r, d in everything if r.run_id == pick)
if info.message:
    (st.error if info.status in ("failed", "broken") else st.caption)(info.message)
show_metrics(info.metrics)
if info.config is not None:
    with st.expander("Settings (config.json)"):
        st.json(info.config.to_dict(), expanded=True)
if demo:
    st.caption("Bundled demo models are rebuilt with `make demo-models`; they are not deleted here.")
elif run_owner(info.path) != sid:
    st.caption("A shared run made outside the app (the command line): every session sees it; manage it on disk.")
elif info.status in runs.ACTIVE_STATES:
    if st.button("Stop this training", icon=":material/stop:"):
        with friendly_errors():
            check_owner(info.path, sid)
            runs.request_stop(info.path)
            st.toast("Stopping after the current batch…")
else:
    with st.popover("Delete this run", icon=":material/delete:"):
        st.markdown(f"Delete **{info.run_id}** and its models for good?")
        if st.button("Yes, delete it", type="primary", key="confirm_delete"):
            with friendly_errors():
                check_owner(info.path, sid)
                runs.delete_run(info.path)
                if st.session_state.get("train_run") == str(info.path):
                    st.session_state.pop("train_run")
                st.session_state.pop("composition", None)
                st.rerun()
