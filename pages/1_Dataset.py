"""Dataset page: upload MIDI (or pick the built-in chorales), choose the token settings, look at the music."""

from __future__ import annotations

import hashlib

import pandas as pd
import streamlit as st

from musegen.config import DataConfig
from musegen.ingest import BUILTIN_NAME, ingest_paths, ingest_sources
from musegen.plots import duration_histogram_chart, piano_roll_chart, pitch_histogram_chart, pitch_name
from musegen.stats import dataset_stats
from musegen.uploads import remove_old_sessions, save_uploads, screen_uploads, session_folder, usable_uploads
from ui.common import LoadedDataset, current_dataset, friendly_errors, limits, md_escape, play, runs_dir, session_id

BUILTIN, UPLOAD = "Built-in Bach chorales", "Upload MIDI files"
GRIDS = {4: "sixteenth notes (4 per beat)", 8: "32nd notes (8 per beat)", 12: "sixteenths + triplets (12 per beat)"}
REPRS = {
    "timed": "timed — exact pitches, durations and rests (TSD tokens)",
    "classic": "classic — the tutorial's notes and chords, every event ½ beat",
    "pianoroll": "piano roll — 88-key frames on the grid: true polyphony (WaveNet, LSTM)",
}
FILTERS = {"all": "all pitched parts", "piano": "piano parts only (the tutorial)", "programs": "chosen GM programs"}


@st.cache_data(max_entries=16, show_spinner=False)
def _stats(key: str, data_json: str, _pieces: list) -> dict:
    return dataset_stats(_pieces, DataConfig(**_loads(data_json))).to_dict()


def _loads(text: str) -> dict:
    import json

    d = json.loads(text)
    return {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}


def _options(lim) -> DataConfig:
    defaults = DataConfig()
    with st.expander("Token and window settings", expanded=False, icon=":material/tune:"):
        c1, c2, c3 = st.columns(3)
        representation = c1.selectbox(
            "Representation", list(REPRS), format_func=REPRS.get, help="How notes become the tokens a model reads."
        )
        grid = c2.selectbox(
            "Quantization grid",
            list(GRIDS),
            index=list(GRIDS).index(defaults.steps_per_beat),
            format_func=GRIDS.get,
            help="Onsets and durations are rounded to this grid (timed tokens).",
            disabled=representation == "classic",
        )
        instrument_filter = c3.selectbox(
            "Instruments",
            list(FILTERS),
            format_func=FILTERS.get,
            help="Which parts of each file are read (drums never).",
        )
        programs: tuple[int, ...] = ()
        if instrument_filter == "programs":
            import pretty_midi

            picked = st.multiselect(
                "General MIDI programs",
                range(128),
                default=[0],
                format_func=lambda p: f"{p} · {pretty_midi.program_to_instrument_name(p)}",
            )
            programs = tuple(int(p) for p in picked)
        c4, c5 = st.columns(2)
        transpose = c4.slider(
            "Transposition augmentation (semitones)",
            -6,
            6,
            defaults.transpose,
            help="Training pieces are also used transposed by every shift in this range (more data, any key).",
        )
        window = c5.number_input(
            "Window length (tokens)",
            min_value=8,
            max_value=2048,
            value=defaults.window,
            step=8,
            help="Tokens of context per training example. The tutorial used 128; small windows train faster.",
        )
    st.caption(
        f"Limits: {lim.max_upload_mb} MB per upload, {lim.max_files:,} files, {lim.max_file_mb} MB per MIDI file."
    )
    return DataConfig(
        representation=representation,
        steps_per_beat=int(grid),
        instrument_filter=instrument_filter,
        programs=programs,
        transpose=(int(transpose[0]), int(transpose[1])),
        window=int(window),
        stride=max(1, int(window) // 2),
    )


def _ingest(files: list[tuple[str, bytes]], cfg: DataConfig, lim) -> None:
    """Read the chosen files (once per set of files and filter) into the session's dataset."""
    digest = hashlib.blake2b(digest_size=8)
    for name, data in files:
        digest.update(name.encode() + b"\0" + hashlib.blake2b(data, digest_size=16).digest())
    digest.update(f"{cfg.instrument_filter}|{cfg.programs}".encode())
    key = f"{'upload' if files else BUILTIN_NAME}-{digest.hexdigest()}"
    current = current_dataset()
    if current is not None and current.key == key:
        current.data = cfg  # token settings changed only: no need to read the files again
        return
    bar = st.progress(0.0, text="Reading MIDI files…")

    def progress(done: int, total: int, name: str) -> None:
        bar.progress(done / max(total, 1), text=f"Reading {done}/{total}: {name}" if name else "Done")

    if files:
        accepted, rejected = screen_uploads(files, lim)
        report = ingest_sources(accepted, cfg, limits=lim, on_progress=progress)
        report.results = rejected + report.results
        usable = usable_uploads(accepted, report)  # rejected files never land on disk
        folder = save_uploads(usable, session_folder(runs_dir(), session_id()) / "data" / key)
        remove_old_sessions(runs_dir(), keep=[session_id()])  # uploads of sessions gone for a day
        shown = ", ".join(n for n, _ in files[:2]) + (f" and {len(files) - 2} more" if len(files) > 2 else "")
        st.session_state["dataset"] = LoadedDataset(shown, key, report.pieces, report.results, cfg, [str(folder)])
    else:
        report = ingest_paths([], cfg, limits=lim, on_progress=progress)
        st.session_state["dataset"] = LoadedDataset(BUILTIN_NAME, key, report.pieces, report.results, cfg, [])
    bar.empty()


def _file_table(ds: LoadedDataset) -> None:
    ok = sum(r.ok for r in ds.results)
    skipped = len(ds.results) - ok
    st.subheader("Files", anchor=False)
    if skipped:
        bad = [r for r in ds.results if not r.ok]
        lines = "\n".join(f"- **{md_escape(r.name)}**: {md_escape(r.reason)}" for r in bad[:5])
        more = f"\n- … and {len(bad) - 5} more (see the table)" if len(bad) > 5 else ""
        st.warning(
            f"{ok} of {len(ds.results)} files are used; {skipped} skipped:\n{lines}{more}", icon=":material/warning:"
        )
    else:
        st.success(f"All {ok} files are used.", icon=":material/check_circle:")
    table = pd.DataFrame(
        {
            "file": [r.name for r in ds.results],
            "status": ["ok" if r.ok else "skipped" for r in ds.results],
            "notes": [r.n_notes if r.ok else None for r in ds.results],
            "reason": [r.reason for r in ds.results],
        }
    )
    height = min(36 * len(table) + 38, 300)
    if skipped:
        table = table.sort_values("status", ascending=False, kind="stable")  # skipped files first
        st.dataframe(table, hide_index=True, height=height, key="file_table")
    else:
        with st.expander(f"The {len(table):,} files"):
            st.dataframe(table.drop(columns="reason"), hide_index=True, height=height, key="file_table")


def _statistics(ds: LoadedDataset) -> dict:
    st.subheader("Statistics", anchor=False)
    stats = _stats(ds.key, _dumps(ds.data), ds.pieces)
    lo, hi = stats["pitch_range"]
    cols = st.columns(5)
    cols[0].metric("Pieces", f"{stats['pieces']:,}")
    cols[1].metric("Notes", f"{stats['notes']:,}")
    if ds.data.representation == "pianoroll":
        step = f"one per 1/{ds.data.steps_per_beat} beat"
        cols[2].metric("Frames", f"{stats['events']:,}", help=f"piano-roll frames of the whole dataset, {step}")
        cols[3].metric("Keys", "88", help="each frame is 88 keys, on or off; the model gives each its own probability")
    else:
        cols[2].metric("Tokens", f"{stats['events']:,}", help=f"{ds.data.representation} tokens of the whole dataset")
        cols[3].metric("Vocabulary", f"{stats['vocab_size']:,}", help="distinct tokens, with <pad>, <unk> and <bos>")
    cols[4].metric("Pitch range", f"{pitch_name(lo)}–{pitch_name(hi)}", help=f"MIDI {lo}–{hi}")
    left, right = st.columns(2)
    left.altair_chart(pitch_histogram_chart(stats["pitch_histogram"]), width="stretch")
    right.altair_chart(duration_histogram_chart(stats["duration_histogram"]), width="stretch")
    return stats


def _dumps(cfg: DataConfig) -> str:
    import json
    from dataclasses import asdict

    return json.dumps(asdict(cfg), sort_keys=True)


def _explore(ds: LoadedDataset) -> None:
    st.subheader("Listen to a piece", anchor=False)
    names = [p.name for p in ds.pieces]
    index = st.selectbox("Piece", range(len(names)), format_func=lambda i: names[i], key="explore_piece")
    piece = ds.pieces[index]
    lo, hi = piece.pitch_range()
    st.caption(f"{piece.n_notes} notes · {piece.length_beats:.0f} beats · {pitch_name(lo)}–{pitch_name(hi)}")
    st.altair_chart(piano_roll_chart([("notes", piece, 0.0)]), width="stretch")
    tempo = float(min(max(piece.tempo or 100.0, 40.0), 240.0))
    play(piece.notes, tempo)


st.title("Dataset", anchor=False)
st.caption("Bring MIDI music to learn from, or use the 371 Bach chorales that ship with musegen.")
lim = limits()
source = st.radio("Source", [BUILTIN, UPLOAD], horizontal=True, key="source", label_visibility="collapsed")
uploads = []
if source == UPLOAD:
    uploads = st.file_uploader(
        "MIDI files (.mid, .midi) or .zip archives of them",
        type=["mid", "midi", "zip"],
        accept_multiple_files=True,
        help="Every file is checked: bad ones are listed with the reason and the others are used.",
        key="uploads",
    )
cfg = _options(lim)
with friendly_errors():
    cfg.validate()
    if source == UPLOAD and not uploads:
        st.info("Upload MIDI files or pick the built-in corpus.", icon=":material/upload_file:")
        st.stop()
    files = [(f.name, f.getvalue()) for f in uploads] if source == UPLOAD else []
    _ingest(files, cfg, lim)
ds = current_dataset()
if ds is None or (source == UPLOAD) == ds.builtin:
    st.info("Upload MIDI files or pick the built-in corpus.", icon=":material/upload_file:")
    st.stop()
_file_table(ds)
if not ds.pieces:
    st.error("No usable MIDI file: see the reasons above. Bring .mid/.midi files with pitched (non-drum) notes.")
    st.stop()
with friendly_errors("Try other token settings, or other files."):
    _statistics(ds)
    _explore(ds)
st.page_link("pages/2_Train.py", label="Next: train a model on this dataset", icon=":material/arrow_forward:")
