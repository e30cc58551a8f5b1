"""What every page needs: folders, the browser session's id, error display, cached resources.

Settings come from the environment so tests and servers can point the app elsewhere:
``MUSEGEN_RUNS_DIR`` (trainings; default ``runs/``) and ``MUSEGEN_DEMO_DIR`` (bundled demo
models; default ``assets/models/``). TensorFlow is never imported here at module level.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from musegen.config import DataConfig, Limits
from musegen.errors import MusegenError
from musegen.ingest import FileResult
from musegen.notes import Piece
from musegen.uploads import valid_session_id

if TYPE_CHECKING:
    from musegen.compose import Composer

ROOT = Path(__file__).resolve().parents[1]
RUNS_ENV, DEMO_ENV = "MUSEGEN_RUNS_DIR", "MUSEGEN_DEMO_DIR"


def runs_dir() -> Path:
    return Path(os.environ.get(RUNS_ENV) or ROOT / "runs")


def demo_dir() -> Path:
    return Path(os.environ.get(DEMO_ENV) or ROOT / "assets" / "models")


def limits() -> Limits:
    return Limits.from_env()


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


@dataclass
class LoadedDataset:
    """The dataset of this session, as the Dataset page left it."""

    name: str
    key: str  # identifies the files and the ingest options
    pieces: list[Piece]
    results: list[FileResult]
    data: DataConfig
    data_paths: list[str] = field(default_factory=list)  # empty: the built-in corpus

    @property
    def builtin(self) -> bool:
        return not self.data_paths


def current_dataset() -> LoadedDataset | None:
    return st.session_state.get("dataset")


# ------------------------------------------------------------------ cached resources


@st.cache_resource(max_entries=4, show_spinner=False)
def _composer(run_dir: str, stamp: float) -> Composer:
    from musegen.compose import Composer

    return Composer(run_dir)


def composer(run_dir: str | Path) -> Composer:
    """A Composer for ``run_dir``, shared by all sessions; reloaded when its model file changes."""
    model = Path(run_dir) / "model.keras"
    stamp = model.stat().st_mtime if model.is_file() else 0.0
    return _composer(str(run_dir), stamp)


@st.cache_data(max_entries=128, show_spinner=False)
def render_audio(
    notes: np.ndarray, tempo: float, program: int = 0, seed_notes: np.ndarray | None = None, seed_end: float = 0.0
) -> tuple[bytes, str, str]:
    """(WAV bytes, engine, message) of notes at ``tempo`` (a seed first, on its own track, when given)."""
    from musegen.audio import render
    from musegen.midi_out import piece_to_midi

    seed = Piece("seed", seed_notes) if seed_notes is not None else None
    pm = piece_to_midi(Piece("music", notes), tempo=tempo, program=program, seed_piece=seed, seed_offset=seed_end)
    result = render(pm)
    return result.wav, result.engine, result.message


def play(notes: np.ndarray, tempo: float, program: int = 0, **seed: object) -> bytes | None:
    """Render and show an audio player; return the WAV bytes (None if rendering failed)."""
    with st.spinner("Rendering audio with FluidSynth…"):
        try:
            wav, engine, message = render_audio(notes, float(tempo), int(program), **seed)  # type: ignore[arg-type]
        except MusegenError as exc:
            st.error(f"No audio: {exc}", icon=":material/volume_off:")
            return None
    st.audio(wav, format="audio/wav")
    if engine != "fluidsynth":
        st.caption(f":material/warning: {message}")
    return wav


def fmt_duration(seconds: float | None) -> str:
    """12 s, 3 min 05 s, 1 h 02 min."""
    if seconds is None:
        return "–"
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


@dataclass
class ModelChoice:
    """A model the Generate page can play: a bundled demo or a run with a best model."""

    label: str
    path: Path
    demo: bool
    owner_run: bool = False  # started by this browser session


def model_choices(owner: str = "") -> list[ModelChoice]:
    """This session's runs with a model, the bundled demos, then the shared runs (newest first).

    Runs that other browser sessions started are not listed: each user sees their own work,
    the demos, and the runs made outside the app (the command line), which are shared.
    """
    from musegen.jobs import list_jobs
    from musegen.runs import list_runs

    demos = [
        ModelChoice(f"{r.run_id} (bundled demo, {r.config.model.arch})", r.path, True)
        for r in sorted(list_runs(demo_dir()), key=lambda r: r.run_id, reverse=True)
        if r.has_model and r.config is not None
    ]
    mine, shared = [], []
    for job in list_jobs(runs_dir()):
        if not (job.run_dir / "model.keras").is_file() or job.owner not in ("", owner):
            continue
        best = job.history.get("best_value")
        score = f", loss {best:.3f}" if isinstance(best, int | float) else ""
        label = f"{job.run_id} ({job.state}{score})"
        if owner and job.owner == owner:
            mine.append(ModelChoice(label + " · yours", job.run_dir, False, True))
        else:
            shared.append(ModelChoice(label + " · shared", job.run_dir, False))
    return mine + demos + shared


def metrics_table(metrics: dict) -> object:
    """Held-out NLL, perplexity and accuracy of the model beside the baseline and a uniform guess.

    Piano-roll runs are scored per frame (the NLL sums the 88 keys; perplexity is per key, so a
    fair coin per key reads 2), token runs per token (a uniform guess reads the vocabulary size).
    """
    import math

    import pandas as pd

    m, b = metrics["model"], metrics["baseline"]
    frames = metrics.get("unit") == "frame"
    per = metrics["vocab_size"] if frames else 1  # perplexity is per key for frames
    rows = [
        {
            "model": metrics.get("arch", "model"),
            "NLL": m["nll"],
            "perplexity": m["perplexity"],
            "accuracy": m["accuracy"],
        },
        {
            "model": "per-key Markov floor" if frames else f"{b.get('order')}-gram baseline",
            "NLL": b["nll"],
            "perplexity": b["perplexity"],
            "accuracy": b["accuracy"],
        },
        {
            "model": "uniform guess",
            "NLL": metrics["uniform_nll"],
            "perplexity": math.exp(metrics["uniform_nll"] / per),
            "accuracy": None,
        },
    ]
    return pd.DataFrame(rows)


def show_metrics(metrics: dict | None) -> None:
    """The held-out table with a one-line verdict, or a note when there are no metrics."""
    if not metrics:
        st.caption("No held-out metrics (the run was not evaluated: no validation pieces, or it ended early).")
        return
    frames = metrics.get("unit") == "frame"
    unit = "frames" if frames else "tokens"
    verdict = "beats" if metrics.get("beats_baseline") else "does not beat yet"
    st.markdown(
        f"Held out: **{metrics['val_pieces']} pieces, {metrics['val_tokens']:,} {unit}**. "
        f"The model **{verdict}** the {'floor' if frames else 'n-gram baseline'} (lower NLL is better)."
    )
    if frames:
        helps = (
            "mean negative log-likelihood per frame, nats: the sum over the 88 keys (the JSB benchmark's measure)",
            "per key: exp(NLL / 88); a fair coin per key is 2",
            "frame accuracy (Bay et al. 2009): TP / (TP + FP + FN), keys on where p > 0.5",
        )
    else:
        helps = (
            "mean negative log-likelihood per token, nats",
            "exp(NLL): as unsure as a uniform choice among this many tokens",
            "top-1 next-token accuracy",
        )
    st.dataframe(
        metrics_table(metrics),
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
