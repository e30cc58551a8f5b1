"""The Train page's first choice: start from a bundled base model (the default when one is there) or from scratch."""

from __future__ import annotations

import streamlit as st

from musegen.config import RunConfig
from musegen.training import sizing
from musegen.training.finetune import base_summary, bundled_bases, finetune_config, resolve_base

SCRATCH = "scratch"


def base_choice(key: str = "train-start") -> RunConfig | None:
    """The fine-tuning config of the base chosen, or None for a training from scratch (then the usual widgets)."""
    bases = {str(p): p.name for p in bundled_bases()}
    if not bases:
        st.caption(
            ":material/info: No base model is bundled here (`make base-model` trains one), so this run starts "
            "from random weights."
        )
        return None
    options = [*bases, SCRATCH]
    chosen = st.radio(
        "Start from",
        options,
        format_func=lambda o: "scratch (random weights)" if o == SCRATCH else f"the base model ({bases[o]})",
        horizontal=True,
        key=key,
        help="A base model was pretrained on a large public-domain corpus: fine-tuning it on a few files learns "
        "far more in a few minutes than a model that starts from nothing.",
    )
    if chosen == SCRATCH:
        return None
    base = resolve_base(chosen)
    st.caption(f":material/school: {base_summary(base)}")
    config = finetune_config(base)
    values = {
        s.name: col.number_input(
            s.label, s.low, s.high, s.initial(config), step=s.step, format=s.format, key=key + s.name, help=s.help
        )
        for col, s in zip(st.columns(len(sizing.TRAIN_SETTINGS)), sizing.TRAIN_SETTINGS, strict=True)
    }
    return sizing.with_settings(config, values)
