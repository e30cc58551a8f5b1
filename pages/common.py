"""The app's page helpers (display only): the session's id, error display, cached models and audio, shared views.

Not a page: ``streamlit_app.py`` lists the pages with ``st.navigation``, so no other module in ``pages/`` is
shown. Everything that is not display lives in ``musegen``; TensorFlow is never imported here at module level.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import streamlit as st

from musegen.errors import MusegenError
from musegen.evaluation.report import held_out_summary, metric_rows, representation_of
from musegen.records import Metrics
from musegen.runs import METRICS
from musegen.sources.uploads import valid_session_id
from musegen.training.session_data import LoadedDataset
from musegen.training.visibility import model_stamp

if TYPE_CHECKING:
    from musegen.generation.compose import Composer


def session_id() -> str:
    """This browser session's id, kept in the URL (``?sid=``) so a reload finds its own jobs."""
    sid = st.session_state.get("sid")
    if not sid:
        given = st.query_params.get("sid", "")
        sid = given if valid_session_id(given) else secrets.token_hex(8)
        st.session_state["sid"] = sid
    if st.query_params.get("sid") != sid:
        st.query_params["sid"] = sid  # navigation clears query parameters: put it back
    return sid


@contextlib.contextmanager
def friendly_errors(what_to_do: str = "") -> Iterator[None]:
    """Show a MusegenError as a message (and what to do) instead of a traceback; the page goes on."""
    try:
        yield
    except MusegenError as exc:
        st.error(str(exc), icon=":material/error:")
        if what_to_do:
            st.info(what_to_do, icon=":material/lightbulb:")


def stop_with(message: str, icon: str = ":material/info:", *, page: str = "", label: str = "") -> None:
    """Say what is missing (and how to get it, with a link to ``page`` when given), then end the page here."""
    st.info(message, icon=icon)
    if page:
        st.page_link(page, label=label, icon=":material/arrow_forward:")
    st.stop()


@contextlib.contextmanager
def progress_bar(what: str, unit: str = "", every: int = 1, start: str = "") -> Iterator[Callable[..., None]]:
    """A progress callback ``(done, total[, name])`` for the library: a bar (at once with the text ``start``,
    redrawn every ``every`` steps: one per generated token slows the page) that goes when the block ends."""
    slot = st.empty()
    if start:
        slot.progress(0.0, text=start)

    def report(done: int, total: int, name: str = "") -> None:
        if done % every == 0 or done == total:
            text = f"{what} {done}/{total}" + (f" {unit}" if unit else "") + (f": {name}" if name else "")
            slot.progress(min(1.0, done / max(total, 1)), text=text)

    try:
        yield report
    finally:
        slot.empty()


def current_dataset() -> LoadedDataset | None:
    """The dataset this session chose on the Dataset page (None: the built-in corpus is used)."""
    return st.session_state.get("dataset")


@st.cache_resource(max_entries=4, show_spinner=False)
def _composer(run_dir: str, stamp: float) -> Composer:
    from musegen.generation.compose import Composer

    return Composer(run_dir)


def composer(run_dir: str | Path) -> Composer:
    """A Composer for ``run_dir``, shared by all sessions; reloaded when its model file changes."""
    return _composer(str(run_dir), model_stamp(run_dir))


@st.cache_data(max_entries=128, show_spinner=False)
def render_audio(midi: bytes) -> tuple[bytes, str, str]:
    """(WAV bytes, engine, message) of a MIDI file, its tempo map and all."""
    from musegen.output.audio import render

    result = render(midi)
    return result.wav, result.engine, result.message


def play(music: bytes | np.ndarray, tempo: float = 120.0, program: int = 0, **seed: Any) -> bytes | None:
    """Show an audio player of a MIDI file, or of notes at ``tempo`` (``seed``: notes played first, and where
    they end); return the WAV bytes (None if rendering failed)."""
    from musegen.output.midi import notes_midi

    with st.spinner("Rendering audio with FluidSynth…"):
        try:
            midi = music if isinstance(music, bytes) else notes_midi(music, float(tempo), int(program), **seed)
            wav, engine, message = render_audio(midi)
        except MusegenError as exc:
            st.error(f"No audio: {exc}", icon=":material/volume_off:")
            return None
    st.audio(wav, format="audio/wav")
    if engine != "fluidsynth":
        st.caption(f":material/warning: {message}")
    return wav


def show_metrics(metrics: Metrics | None) -> None:
    """The held-out table (model, floor, uniform guess) with its one-line verdict, or a note without metrics."""
    if metrics is None:
        st.caption("No held-out metrics (the run was not evaluated: no validation pieces, or it ended early).")
        return
    import pandas as pd

    again = f"Its {METRICS} may come from another musegen version: score it again with `python -m musegen evaluate`."
    with friendly_errors(again):
        rows, helps = metric_rows(metrics), representation_of(metrics).metric_help
        st.markdown(held_out_summary(metrics, strong=lambda s: f"**{s}**"))
        st.dataframe(
            pd.DataFrame(rows),
            hide_index=True,
            column_config={
                "NLL": st.column_config.NumberColumn(format="%.4f", help=helps[0]),
                "perplexity": st.column_config.NumberColumn(format="%.2f", help=helps[1]),
                "accuracy": st.column_config.NumberColumn(format="%.3f", help=helps[2]),
            },
        )


def md_escape(text: str) -> str:
    """Text shown inside Markdown as typed (file names and reasons may hold * _ [ ] and the like)."""
    return "".join("\\" + c if c in "\\`*_{}[]()#+!|<>~$" else c for c in text)
