"""The Runs page's surprise view (display only): a model reads a piece, and every note is coloured by how
little the model expected it."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from musegen.evaluation.surprise import Surprise, surprise_of_run
from musegen.output.plots import surprise_chart
from musegen.training.visibility import demo_dir, model_choices, runs_dir
from pages.common import composer, friendly_errors, stop_with

FROM_DATA, UPLOAD = "A piece from the model's data", "My own MIDI file"


def surprise_view(sid: str) -> None:
    """Pick a model and a piece, press the button, see the surprises."""
    st.subheader("Where the model is surprised", anchor=False)
    st.caption(
        "The model reads a piece and says how likely each next note was: every note is coloured by its "
        "negative log-likelihood (NLL, nats): dark notes are ones the model did not expect. The piece's mean is "
        "in the run's unit, beside the mean on its held-out pieces."
    )
    if not (models := model_choices(runs_dir(), demo_dir(), sid)):
        stop_with("No trained model yet: train one on the Train page.", ":material/model_training:")
    model_pick = st.selectbox("Model", models, format_func=lambda c: c.label, key="surprise_model")
    with friendly_errors("Pick another piece or model; a MIDI file may need another instrument filter."):
        scorer = composer(model_pick.path)
        mode = st.radio("Piece", [FROM_DATA, UPLOAD], horizontal=True, key="surprise_source")
        if mode == FROM_DATA:
            if not (pieces := scorer.pieces()):
                stop_with("This model stores no pieces; upload a MIDI file.", ":material/upload_file:")
            first = "Held-out pieces come first: the model never trained on them."
            index = st.selectbox(
                "Piece", range(len(pieces)), format_func=lambda i: pieces[i][0], key="surprise_piece", help=first
            )
            what, name, chosen = index, "", ("piece", index)
        else:
            upload = st.file_uploader("MIDI file", type=["mid", "midi"], key="surprise_upload")
            if upload is None:
                stop_with("Upload a MIDI file to see where the model is surprised.", ":material/upload_file:")
            what, name, chosen = upload.getvalue(), upload.name, ("file", upload.file_id)
        here = (str(model_pick.path), chosen)
        if st.button("Find the surprises", type="primary", icon=":material/psychology_alt:", key="surprise_go"):
            with st.spinner("Scoring every note…"):
                st.session_state["surprise"] = (here, surprise_of_run(scorer, what, name=name or "uploaded.mid"))
        if (found := st.session_state.get("surprise")) is None or found[0] != here:
            stop_with("Pick a piece, then press **Find the surprises**.", ":material/psychology_alt:")
        _show(found[1])


def _show(result: Surprise) -> None:
    """The piece's mean surprise beside the held-out mean, the coloured roll and the most surprising notes."""
    unit = result.unit
    c1, c2, c3 = st.columns(3)
    delta = None if result.delta is None else f"{result.delta:+.3f} vs held-out"
    c1.metric(
        f"Mean NLL (nats per {unit})",
        f"{result.mean_nll:.3f}",
        delta=delta,
        delta_color="inverse",
        help=f"over the piece's {result.targets} {unit}s; higher: more surprised",
    )
    heldout = "—" if result.heldout_nll is None else f"{result.heldout_nll:.3f}"
    c2.metric(f"Held-out mean (nats per {unit})", heldout, help="the run's metrics.json: its held-out pieces")
    c3.metric("Notes", result.piece.n_notes)
    st.caption(f"{result.label} · a note's NLL: the nats of the {unit}s that make it")
    st.altair_chart(surprise_chart(result.piece, result.note_nll), width="stretch", key="surprise_roll")
    st.markdown("**The most surprising notes**")
    st.dataframe(
        pd.DataFrame(result.note_rows(result.top()), columns=["start", "note", "pitch", "nll"]),
        hide_index=True,
        column_config={
            "start": st.column_config.NumberColumn("beat", format="%.2f"),
            "nll": st.column_config.NumberColumn("NLL (nats)", format="%.3f"),
        },
        key="surprise_table",
    )
