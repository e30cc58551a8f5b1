"""Pictures of music and of training, as Altair (Vega-Lite) charts built from plain data.

Every function returns an ``altair.Chart`` that any front end can show (Streamlit's
``st.altair_chart``, a notebook, ``chart.save("x.html")``) and that tests can inspect with
``chart.to_dict()``. Altair and pandas are imported inside the functions, so importing this
module costs nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from musegen.notes import END, PITCH, START, VELOCITY, Piece, pitch_name
from musegen.records import History

SEED_COLOR, CONTINUATION_COLOR, NOTE_COLOR = "#8da0b8", "#e4572e", "#4c78a8"
PART_COLORS = {
    "seed": SEED_COLOR,
    "continuation": CONTINUATION_COLOR,
    "notes": NOTE_COLOR,
    "kept": SEED_COLOR,  # infilling: the notes around the span
    "regenerated": CONTINUATION_COLOR,
}
MAX_NOTES = 8000  # a piano roll draws at most this many notes (the first ones)
CHORD_COLOR, MAX_CHORDS = "#2a9d8f", 2000  # the chords drawn over a piano roll: their colour, the most drawn
VELOCITY_OPACITY = (0.25, 1.0)  # the opacity of a note of velocity 1 and of velocity 127 (soft notes stay visible)

__all__ = [
    "duration_histogram_chart",
    "loss_chart",
    "note_rows",
    "piano_roll_chart",
    "pitch_histogram_chart",
    "runs_loss_chart",
    "surprise_chart",
    "velocity_histogram_chart",
]


def _velocity_opacity() -> Any:
    """The Altair scale from MIDI velocity (1..127) to opacity: louder notes are drawn more opaque."""
    import altair as alt

    return alt.Scale(domain=[1, 127], range=list(VELOCITY_OPACITY), clamp=True)


def note_rows(piece: Piece, part: str = "notes", offset: float = 0.0, max_notes: int = MAX_NOTES) -> list[dict]:
    """One dict per note (start, end in beats shifted by ``offset``; pitch, name, velocity, part)."""
    notes = piece.notes[:max_notes]
    return [
        {
            "start": float(row[START]) + offset,
            "end": float(row[END]) + offset,
            "pitch": int(row[PITCH]),
            "top": int(row[PITCH]) + 1,
            "note": pitch_name(int(row[PITCH])),
            "velocity": int(row[VELOCITY]),
            "part": part,
        }
        for row in notes
    ]


def piano_roll_chart(
    parts: Sequence[tuple[str, Piece, float]],
    *,
    title: str = "",
    height: int | None = None,
    max_notes: int = MAX_NOTES,
    chords: Sequence[tuple[float, float, str]] = (),
) -> Any:
    """A piano roll of one or more parts (label, piece, offset in beats), one colour per part.

    Use ``[("notes", piece, 0)]`` for a single piece, or ``[("seed", seed, 0),
    ("continuation", cont, seed_end)]`` to show where a model took over. One row per
    semitone (C's labelled); ``height`` defaults to about 7 pixels per row. ``chords``
    ((start, end, symbol) in beats) are drawn over the notes: a line where each begins, its name on top.
    """
    import altair as alt
    import pandas as pd

    rows: list[dict] = []
    for label, piece, offset in parts:
        rows += note_rows(piece, label, offset, max_notes - len(rows))
    frame = pd.DataFrame(rows, columns=["start", "end", "pitch", "top", "note", "velocity", "part"])
    labels = [label for label, _, _ in parts]
    colors = [PART_COLORS.get(label, NOTE_COLOR) for label in labels]
    lo, hi = (int(frame.pitch.min()) - 1, int(frame.pitch.max()) + 1) if len(frame) else (48, 84)
    rows_shown = list(range(hi, lo - 1, -1))  # high pitches on top
    height = height or int(min(max(7 * len(rows_shown), 160), 480))
    octave_label = "datum.value % 12 == 0 ? 'C' + (floor(datum.value / 12) - 1) : ''"
    roll = (
        alt.Chart(frame)
        .mark_bar(cornerRadius=1.5)
        .encode(
            x=alt.X("start:Q", title="beats", scale=alt.Scale(nice=False, zero=True), axis=alt.Axis(tickMinStep=1)),
            x2="end:Q",
            y=alt.Y(
                "pitch:O",
                title=None,
                scale=alt.Scale(domain=rows_shown, paddingInner=0.12),
                axis=alt.Axis(labelExpr=octave_label, ticks=False, grid=False, domain=False),
            ),
            color=alt.Color(
                "part:N",
                scale=alt.Scale(domain=labels, range=colors),
                legend=alt.Legend(orient="top", title=None) if len(parts) > 1 else None,
            ),
            opacity=alt.Opacity("velocity:Q", scale=_velocity_opacity(), legend=None),  # louder: more opaque
            tooltip=["note:N", "pitch:Q", "velocity:Q", "start:Q", "end:Q", "part:N"],
        )
        .properties(height=height, title=title)
    )
    return _with_chords(roll, chords) if chords else roll


def _with_chords(roll: Any, chords: Sequence[tuple[float, float, str]]) -> Any:
    """``roll`` with each chord's start marked by a line and its symbol written at the top."""
    import altair as alt
    import pandas as pd

    frame = pd.DataFrame([{"start": s, "end": e, "chord": c} for s, e, c in chords[:MAX_CHORDS]])
    base = alt.Chart(frame).encode(x="start:Q", tooltip=["chord:N", "start:Q", "end:Q"])
    lines = base.mark_rule(color=CHORD_COLOR, strokeDash=[3, 3], opacity=0.7)
    names = base.mark_text(align="left", baseline="top", dx=3, dy=2, color=CHORD_COLOR, fontWeight="bold").encode(
        y=alt.value(0), text="chord:N"
    )
    return alt.layer(roll, lines, names)


def pitch_histogram_chart(pitch_histogram: Sequence[int], *, height: int = 220) -> Any:
    """Bars of how often each MIDI pitch occurs (the range that occurs, with note names)."""
    import altair as alt
    import pandas as pd

    counts = np.asarray(pitch_histogram, dtype=np.int64)
    used = np.flatnonzero(counts)
    lo, hi = (int(used.min()), int(used.max())) if len(used) else (60, 72)
    frame = pd.DataFrame(
        {"pitch": range(lo, hi + 1), "count": counts[lo : hi + 1], "note": [pitch_name(p) for p in range(lo, hi + 1)]}
    )
    return (
        alt.Chart(frame)
        .mark_bar(color=NOTE_COLOR)
        .encode(
            x=alt.X("pitch:Q", title="MIDI pitch", scale=alt.Scale(domain=[lo - 0.5, hi + 0.5], nice=False)),
            y=alt.Y("count:Q", title="notes"),
            tooltip=["note:N", "pitch:Q", "count:Q"],
        )
        .properties(height=height, title="Pitches")
    )


def duration_histogram_chart(duration_histogram: Mapping[str, int], *, height: int = 220, top: int = 16) -> Any:
    """Bars of the most common note lengths (in beats), shortest first."""
    import altair as alt
    import pandas as pd

    common = sorted(duration_histogram.items(), key=lambda kv: -kv[1])[:top]
    common.sort(key=lambda kv: float(kv[0]))
    frame = pd.DataFrame({"beats": [k for k, _ in common], "count": [v for _, v in common]})
    return (
        alt.Chart(frame)
        .mark_bar(color="#72b7b2")
        .encode(
            x=alt.X("beats:N", sort=None, title="note length (beats)"),
            y=alt.Y("count:Q", title="notes"),
            tooltip=["beats:N", "count:Q"],
        )
        .properties(height=height, title="Note lengths")
    )


def velocity_histogram_chart(velocity_histogram: Mapping[str, int], *, height: int = 180) -> Any:
    """Bars of how many notes are played at each loudness (``DatasetStats.velocity_histogram``: velocity range ->
    count, soft to loud in its order), each bar as opaque as a note of that loudness in the piano roll."""
    import altair as alt
    import pandas as pd

    labels = list(velocity_histogram)
    mids = [sum(int(x) for x in label.split("-")) / 2 for label in labels]
    frame = pd.DataFrame({"velocity": labels, "notes": list(velocity_histogram.values()), "loudness": mids})
    return (
        alt.Chart(frame)
        .mark_bar(color=NOTE_COLOR)
        .encode(
            x=alt.X("velocity:N", sort=labels, title="velocity (soft to loud)"),
            y=alt.Y("notes:Q", title="notes"),
            opacity=alt.Opacity("loudness:Q", scale=_velocity_opacity(), legend=None),
            tooltip=["velocity:N", "notes:Q"],
        )
        .properties(height=height, title="Velocities")
    )


def _loss_rows(history: History) -> tuple[list[dict], list[dict]]:
    """(per-batch rows, per-epoch rows) with x = fractional epoch."""
    per_epoch = max(1, int(history.batches_per_epoch or 0))
    batch_rows = [
        {"epoch": (b.epoch - 1) + b.batch / per_epoch, "loss": b.loss, "series": "loss (batches)"}
        for b in history.batches
        if b.loss is not None
    ]
    if not history.batches_per_epoch and batch_rows:  # batches per epoch not yet known: spread evenly
        n = len(batch_rows)
        for i, row in enumerate(batch_rows):
            row["epoch"] = (i + 1) / n
    evals = history.evals or []  # validations within epochs: drawn where they were, not at epoch ends
    epoch_rows = []
    for e in history.epochs:
        for value, label in ((e.loss, "loss"), (None if evals else e.val_loss, "validation loss")):
            if value is not None:
                epoch_rows.append({"epoch": float(e.epoch), "loss": value, "series": label})
    for v in evals:
        if v.val_loss is not None:
            epoch_rows.append({"epoch": float(v.epoch_fraction), "loss": v.val_loss, "series": "validation loss"})
    return batch_rows, epoch_rows


def loss_chart(history: History, *, height: int = 300, title: str = "", unit: str = "token") -> Any:
    """Training loss per batch (running mean of the epoch) and loss / validation loss per epoch (validations
    within epochs at their fractional epochs)."""
    import altair as alt
    import pandas as pd

    batch_rows, epoch_rows = _loss_rows(history)
    series = ["loss (batches)", "loss", "validation loss"]
    colors = ["#b8c7dc", NOTE_COLOR, CONTINUATION_COLOR]
    legend = alt.Legend(orient="top", title=None)
    color = alt.Color("series:N", scale=alt.Scale(domain=series, range=colors), legend=legend)
    x = alt.X("epoch:Q", title="epoch", scale=alt.Scale(zero=True, nice=False))
    y = alt.Y("loss:Q", title=f"loss (nats per {unit})", scale=alt.Scale(zero=False))
    tooltip = ["series:N", alt.Tooltip("epoch:Q", format=".2f"), alt.Tooltip("loss:Q", format=".4f")]
    batches = alt.Chart(pd.DataFrame(batch_rows, columns=["epoch", "loss", "series"])).mark_line(strokeWidth=1.2)
    epochs = alt.Chart(pd.DataFrame(epoch_rows, columns=["epoch", "loss", "series"])).mark_line(
        point=alt.OverlayMarkDef(size=60, filled=True), strokeWidth=2.5
    )
    layers = [
        batches.encode(x=x, y=y, color=color, tooltip=tooltip),
        epochs.encode(x=x, y=y, color=color, tooltip=tooltip),
    ]
    return alt.layer(*layers).properties(height=height, title=title)


def runs_loss_chart(
    histories: Mapping[str, History], *, metric: str = "val_loss", height: int = 320, unit: str = "token"
) -> Any:
    """One line per run of ``metric`` ("val_loss" or "loss") per epoch, for comparing runs."""
    import altair as alt
    import pandas as pd

    rows = [
        {"run": name, "epoch": int(e.epoch), metric: getattr(e, metric)}
        for name, history in histories.items()
        for e in history.epochs
        if getattr(e, metric) is not None
    ]
    frame = pd.DataFrame(rows, columns=["run", "epoch", metric])
    label = "validation loss" if metric == "val_loss" else "training loss"
    return (
        alt.Chart(frame)
        .mark_line(point=True, strokeWidth=2)
        .encode(
            x=alt.X("epoch:Q", title="epoch", axis=alt.Axis(tickMinStep=1)),
            y=alt.Y(f"{metric}:Q", title=f"{label} (nats per {unit})", scale=alt.Scale(zero=False)),
            color=alt.Color("run:N", legend=alt.Legend(title=None, labelLimit=320)),
            tooltip=["run:N", "epoch:Q", alt.Tooltip(f"{metric}:Q", format=".4f")],
        )
        .properties(height=height, title=f"{label.capitalize()} per epoch")
    )


def surprise_chart(
    piece: Piece,
    note_nll: Sequence[float] | np.ndarray,
    *,
    title: str = "",
    height: int | None = None,
    max_notes: int = MAX_NOTES,
    unit: str = "nats",
) -> Any:
    """A piano roll of ``piece`` with every note coloured by its NLL (``note_nll``, one per note, in
    ``unit``): where the model was surprised. Notes without a value (NaN) are drawn grey; the tooltip
    gives the note, its pitch, its velocity, its beats and its NLL. (Colour carries the NLL here, so loudness is
    not drawn as opacity: a soft, unsurprising yellow note would vanish.)"""
    import altair as alt
    import pandas as pd

    rows = note_rows(piece, max_notes=max_notes)
    values = np.asarray(note_nll, dtype=np.float64)[: len(rows)]
    for row, value in zip(rows, values.tolist(), strict=True):
        row["nll"] = round(value, 4) if np.isfinite(value) else None
    frame = pd.DataFrame(rows, columns=["start", "end", "pitch", "top", "note", "velocity", "part", "nll"])
    lo, hi = (int(frame.pitch.min()) - 1, int(frame.pitch.max()) + 1) if len(frame) else (48, 84)
    rows_shown = list(range(hi, lo - 1, -1))  # high pitches on top
    height = height or int(min(max(7 * len(rows_shown), 160), 480))
    octave_label = "datum.value % 12 == 0 ? 'C' + (floor(datum.value / 12) - 1) : ''"
    x = alt.X("start:Q", title="beats", scale=alt.Scale(nice=False, zero=True), axis=alt.Axis(tickMinStep=1))
    y = alt.Y(
        "pitch:O",
        title=None,
        scale=alt.Scale(domain=rows_shown, paddingInner=0.12),
        axis=alt.Axis(labelExpr=octave_label, ticks=False, grid=False, domain=False),
    )
    tooltip = [
        "note:N",
        "pitch:Q",
        "velocity:Q",
        alt.Tooltip("start:Q", title="beat", format=".2f"),
        alt.Tooltip("end:Q", format=".2f"),
        alt.Tooltip("nll:Q", title=f"NLL ({unit})", format=".3f"),
    ]
    base = alt.Chart(frame).mark_bar(cornerRadius=1.5)
    unscored = base.transform_filter("!isValid(datum.nll)").encode(
        x=x, x2="end:Q", y=y, color=alt.value("#c8c8c8"), tooltip=tooltip
    )
    scored = base.transform_filter("isValid(datum.nll)").encode(
        x=x,
        x2="end:Q",
        y=y,
        color=alt.Color(
            "nll:Q",
            title=f"NLL ({unit})",
            scale=alt.Scale(scheme="yelloworangered", zero=True),
            legend=alt.Legend(orient="right"),
        ),
        tooltip=tooltip,
    )
    return alt.layer(unscored, scored).properties(height=height, title=title)
