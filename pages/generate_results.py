"""The Generate page's results (display only): each variation's piano roll, audio, originality and
downloads, and how the set compares with the real music."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from musegen.errors import MusegenError
from musegen.evaluation.originality import Finding, Source, check, sources
from musegen.evaluation.report import MUSIC_COLUMNS, music_rows
from musegen.generation.compose import Composition, Infilling
from musegen.metrics.music import compare_sets, piece_stats
from musegen.metrics.velocity import velocities
from musegen.output.midi import midi_bytes
from musegen.output.plots import piano_roll_chart
from musegen.steering.constraints import describe
from musegen.training.visibility import model_stamp
from pages.common import composer as load_composer
from pages.common import friendly_errors, play

NUMBERS = {c.label: st.column_config.NumberColumn(format=c.format, help=c.help) for c in MUSIC_COLUMNS if c.format}


@st.cache_data(max_entries=8, show_spinner=False)
def _reference_stats(run_dir: str, stamp: float) -> list:
    return [piece_stats(p) for p in load_composer(run_dir).reference_pieces(24)]


@st.cache_resource(max_entries=4, show_spinner=False)
def _sources(run_dir: str, stamp: float) -> list[Source]:
    return sources(load_composer(run_dir))


def _originality(findings: list[Finding]) -> None:
    for finding in findings:
        text = finding.describe()
        text = text[:1].upper() + text[1:]  # a piece's name keeps its case
        if finding.flagged:
            st.warning(text, icon=":material/content_copy:")
        else:
            st.caption(f":material/content_copy: {text}")


def _downloads(name: str, midi: bytes, wav: bytes | None, key: str) -> None:
    """The MIDI and (when rendered) WAV download buttons of one result."""
    c1, c2, _ = st.columns([1, 1, 3])
    get = ":material/download:"
    c1.download_button("Download MIDI", midi, file_name=f"{name}.mid", mime="audio/midi", key=f"mid-{key}", icon=get)
    if wav is not None:
        c2.download_button("Download WAV", wav, file_name=f"{name}.wav", mime="audio/wav", key=f"wav-{key}", icon=get)


def _chord_share(report: dict | None, i: int) -> str:
    share = None if report is None else report["shares"][i]
    return "" if share is None else f" · {share:.0%} of the notes begun under a chord are its tones"


def _infilled(result: Infilling, i: int, tempo: float | None, program: int, copy: list[Finding]) -> None:
    roll = piano_roll_chart(result.parts(i), chords=result.chord_marks())
    st.altair_chart(roll, width="stretch", key=f"infill-roll-{i}")
    new = f"{result.middles[i].n_notes} new notes from {result.token_counts[i]} tokens"
    st.caption(f"{new} in {result.plan.where}{_chord_share(result.chord_report(), i)}")
    _originality(copy)
    midi = midi_bytes(result.midi(i, tempo=tempo, program=program))  # tempo None: the piece's tempo map
    _downloads(f"musegen-{result.run_id}-infill-v{i + 1}", midi, play(midi), f"i{i}")


def _variation(comp: Composition, i: int, tempo: float | None, program: int, unit: str, copy: list[Finding]) -> None:
    cont = comp.continuations[i]
    parts = [("seed", comp.seed.piece, 0.0), ("continuation", cont, comp.seed.end_beats)]
    st.altair_chart(piano_roll_chart(parts, chords=comp.chord_marks(i)), width="stretch", key=f"roll-{i}")
    dynamics = f" · dynamics: {v.describe()}" if (v := velocities(cont)) is not None else ""
    chords = _chord_share(comp.chord_report(), i)
    st.caption(f"{cont.n_notes} new notes from {comp.token_counts[i]} {unit}{dynamics}{chords}")
    _originality(copy)
    midi = midi_bytes(comp.midi(i, tempo=tempo, program=program))  # tempo None: the seed's tempo map, then its mean
    _downloads(f"musegen-{comp.run_id}-v{i + 1}", midi, play(midi), f"{i}")


def _metrics(comp: Composition, run_dir: str) -> None:
    st.subheader("How it compares with the real music", anchor=False)
    real = _reference_stats(run_dir, model_stamp(run_dir))
    generated = [piece_stats(p) for p in comp.continuations]
    st.dataframe(pd.DataFrame(music_rows(generated, real)), hide_index=True, column_config=NUMBERS)
    if len(generated) < 2 or len(real) < 2:
        st.caption("Generate 2 or more variations to compare them with the real music as a set.")
        return
    try:
        comparison = compare_sets(generated, real)
    except MusegenError as exc:
        st.caption(f"No set comparison: {exc}")
        return
    st.markdown(
        f"**Overlap with the real music: {comparison.mean_overlap:.2f}** (1 = as close as real pieces are "
        "to each other; Yang & Lerch's overlapped area, mean over features)"
    )
    table = pd.DataFrame(comparison.rows())[["feature", "overlap", "kl_divergence", "inter_mean", "intra_real_mean"]]
    with st.expander("Per feature"):
        st.dataframe(table, hide_index=True)


def show_infilling(result: Infilling, run_dir: str, tempo: float | None, program: int) -> None:
    """The variations of a filled-in span, each in its tab."""
    st.subheader("Results", anchor=False)
    made = f"{len(result.pieces)} variation(s) of {result.plan.where} in {result.seconds:.1f} s"
    kept = describe(result.constraints) if result.constraints is not None and result.constraints.active else ""
    st.caption(f"{made}{' · ' + kept if kept else ''} · grey: kept, orange: new")
    with friendly_errors():
        learned = _sources(run_dir, model_stamp(run_dir))
        copies = [check(learned, result.placed(i)) for i in range(len(result.pieces))]
        for i, tab in enumerate(st.tabs([f"Variation {i + 1}" for i in range(len(result.pieces))])):
            with tab:
                _infilled(result, i, tempo, program, copies[i])


def show_composition(comp: Composition, run_dir: str, tempo: float | None, program: int, unit: str) -> None:
    """The continuations, each in its tab, and the comparison of the set with the real music."""
    st.subheader("Results", anchor=False)
    made = f"{len(comp.continuations)} variation(s) of {comp.sampling.length} {unit} in {comp.seconds:.1f} s"
    kept = describe(comp.constraints) if comp.constraints is not None and comp.constraints.active else ""
    st.caption(f"{made}{' · ' + kept if kept else ''} · grey: the seed, orange: the model")
    with friendly_errors():
        learned = _sources(run_dir, model_stamp(run_dir))
        copies = [check(learned, comp.placed(i)) for i in range(len(comp.continuations))]
        for i, tab in enumerate(st.tabs([f"Variation {i + 1}" for i in range(len(comp.continuations))])):
            with tab:
                _variation(comp, i, tempo, program, unit, copies[i])
        _metrics(comp, run_dir)
