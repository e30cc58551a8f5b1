"""Runs page: every training with its status, settings and metrics; loss curves compared; delete; where a
model is surprised by a piece."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from musegen import runs
from musegen.evaluation.report import loss_unit, run_row
from musegen.output.plots import runs_loss_chart
from musegen.training.visibility import delete_run, demo_dir, runs_dir, stop_run, visible_runs
from pages.common import friendly_errors, session_id, show_metrics, stop_with
from pages.runs_surprise import surprise_view

st.title("Runs", anchor=False)
st.caption(
    "Your trainings, the shared runs and the bundled demos: settings, held-out metrics, loss curves "
    "(WaveNet against LSTM). Other people's trainings on this server stay private to them."
)
sid = session_id()
everything = []
with friendly_errors("A run folder may be damaged; delete it below."):
    everything = visible_runs(runs_dir(), demo_dir(), sid)
if not everything:
    stop_with(
        "No runs yet. Start a training on the Train page.",
        ":material/model_training:",
        page="pages/2_Train.py",
        label="Train a model",
    )

table = pd.DataFrame([run_row(r.info, r.demo) for r in everything])
st.dataframe(
    table,
    hide_index=True,
    column_config={
        "run": st.column_config.TextColumn(width="medium"),
        "beats floor": st.column_config.CheckboxColumn(help="lower held-out NLL than the representation's floor"),
        "best loss": st.column_config.NumberColumn(format="%.4f", help="best validation loss during training"),
        "held-out NLL": st.column_config.NumberColumn(
            format="%.4f", help="nats per token (per frame for a piano roll) on held-out pieces"
        ),
        "accuracy": st.column_config.NumberColumn(format="%.3f"),
        "floor NLL": st.column_config.NumberColumn(
            format="%.4f", help="the floor on the same targets: an n-gram baseline, or per-key Markov chains for frames"
        ),
    },
    key="runs_table",
)

st.subheader("Loss curves", anchor=False)
with_history = [r.info for r in everything if r.info.history.epochs]
by_id = {r.info.run_id: r.info for r in everything}
c1, c2 = st.columns([3, 1])
chosen = c1.multiselect(
    "Runs to compare", [r.run_id for r in with_history], default=[r.run_id for r in with_history][:4], key="compare"
)
metric = c2.radio(
    "Curve", ["val_loss", "loss"], format_func={"val_loss": "validation", "loss": "training"}.get, horizontal=True
)
if chosen:
    unit = loss_unit([by_id[rid] for rid in chosen])
    st.altair_chart(
        runs_loss_chart({rid: by_id[rid].history for rid in chosen}, metric=metric, unit=unit), width="stretch"
    )
else:
    st.caption("Pick runs that have finished at least one epoch.")

st.subheader("Details", anchor=False)
pick = st.selectbox("Run", [r.info.run_id for r in everything], key="detail_run")
run = next(r for r in everything if r.info.run_id == pick)
info = run.info
if info.message:
    (st.error if info.status in ("failed", "broken") else st.caption)(info.message)
show_metrics(info.metrics)
if info.config is not None:
    with st.expander(f"Settings ({runs.CONFIG})"):
        st.json(info.config.to_dict(), expanded=True)
if run.action == "demo":
    st.caption("Bundled demo models are rebuilt with `make demo-models`; they are not deleted here.")
elif run.action == "shared":
    st.caption("A shared run made outside the app (the command line): every session sees it; manage it on disk.")
elif run.action == "stop":
    if st.button("Stop this training", icon=":material/stop:"):
        with friendly_errors():
            stop_run(info.path, sid)
            st.toast("Stopping after the current batch…")
else:
    with st.popover("Delete this run", icon=":material/delete:"):
        st.markdown(f"Delete **{info.run_id}** and its models for good?")
        if st.button("Yes, delete it", type="primary", key="confirm_delete"):
            with friendly_errors():
                delete_run(info.path, sid)
                if st.session_state.get("train_run") == str(info.path):
                    st.session_state.pop("train_run")
                st.session_state.pop("composition", None)
                st.rerun()

surprise_view(sid)
