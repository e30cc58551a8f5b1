"""The home page's demo (display only): a bundled demo model continues a chorale it never saw, and fills
in two bars of the result anew. No TensorFlow is imported until the button is pressed."""

from __future__ import annotations

import streamlit as st

from musegen.config import SamplingConfig
from musegen.generation.compose import Composition
from musegen.output.plots import piano_roll_chart
from musegen.steering.infill import default_span
from musegen.training.visibility import demo_dir, model_choices, runs_dir
from pages.common import composer as load_composer
from pages.common import friendly_errors, play

DEMO_TOKENS = 192  # about 20 seconds of music from a demo model


def demo_section() -> None:
    st.subheader("Play a demo")
    demos = [c for c in model_choices(runs_dir(), demo_dir()) if c.demo]
    if not demos:
        st.info(
            f"The bundled demo models are not here yet (looked in `{demo_dir()}`). Build them with "
            "`make demo-models` (a few minutes on a laptop), or train your own on the Train page.",
            icon=":material/info:",
        )
        return
    left, right = st.columns([2, 1])
    with right:
        pick = st.selectbox("Demo model", demos, format_func=lambda c: c.label, key="demo_model")
        temperature = st.slider(
            "Temperature",
            0.5,
            1.5,
            0.8,
            0.05,
            help="Lower: safer, more repetitive music (0.8 measured closest to Bach).",
        )
        go = st.button("Play a demo", type="primary", icon=":material/play_arrow:")
    with left:
        st.markdown(
            "A small model trained on the Bach chorales continues a passage of a chorale it never saw. "
            "The grey notes are the real seed, the orange ones are the model's."
        )
        if go:
            with friendly_errors("Rebuild the demo models with `make demo-models`."), st.spinner("Composing…"):
                composer = load_composer(pick.path)
                seed = composer.random_seed(None, length=min(64, composer.config.data.window), held_out=True)
                # top-k 8 at temperature 0.8 came closest to the real chorales (BENCHMARKS.md, musical quality)
                sampling = SamplingConfig(length=DEMO_TOKENS, temperature=temperature, top_k=8)
                st.session_state["demo"] = (str(pick.path), composer.compose(seed, sampling))
                st.session_state.pop("demo_fill", None)
        if (shown := st.session_state.get("demo")) is not None:
            _demo_result(*shown, temperature)


def _demo_result(run_dir: str, comp: Composition, temperature: float) -> None:
    """The demo's piece, and a button that fills in two bars of it anew (the demo models learned to infill)."""
    parts = [("seed", comp.seed.piece, 0.0), ("continuation", comp.continuations[0], comp.seed.end_beats)]
    st.altair_chart(piano_roll_chart(parts), width="stretch")
    notes = comp.continuations[0].notes
    play(notes, 100.0, seed_notes=comp.seed.piece.notes, seed_end=comp.seed.end_beats)
    st.caption(f"{comp.seed.label} · generated in {comp.seconds:.1f} s by {comp.run_id}")
    with friendly_errors("Rebuild the demo models with `make demo-models`."):
        composer = load_composer(run_dir)
        if not composer.can_infill:
            return
        whole = comp.joined(0)
        start, end = default_span(whole)
        again = f"The model writes beats {start:g}-{end:g} again, leading from what comes before into what follows."
        if st.button("Fill in two bars anew", icon=":material/edit_note:", help=again):
            with st.spinner("Filling in…"):
                sampling = SamplingConfig(length=400, temperature=temperature, top_k=8)
                st.session_state["demo_fill"] = composer.infill(whole, start, end, sampling)
        if (fill := st.session_state.get("demo_fill")) is not None:
            st.altair_chart(piano_roll_chart(fill.parts(0)), width="stretch")
            play(fill.pieces[0].notes, 100.0)
            st.caption(
                f"Beats {fill.start:g}-{fill.end:g} filled in anew ({fill.middles[0].n_notes} notes): orange. "
                "More on the Generate page: any span, variations, a key to keep to."
            )
