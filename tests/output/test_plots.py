"""Charts: the data they carry and how they are drawn (checked through the Vega-Lite spec)."""

from __future__ import annotations

import numpy as np

from musegen.datasets.stats import dataset_stats
from musegen.notes import Piece, make_notes, pitch_name
from musegen.output.plots import (
    CONTINUATION_COLOR,
    SEED_COLOR,
    duration_histogram_chart,
    loss_chart,
    note_rows,
    piano_roll_chart,
    pitch_histogram_chart,
    runs_loss_chart,
    surprise_chart,
    velocity_histogram_chart,
)
from musegen.records import History


def _values(spec: dict) -> list[dict]:
    """Every inline data row of a Vega-Lite spec (Altair moves data to top-level datasets)."""
    return [row for rows in spec.get("datasets", {}).values() for row in rows]


def test_pitch_names():
    assert [pitch_name(p) for p in (60, 61, 21, 108)] == ["C4", "C#4", "A0", "C8"]


def test_note_rows_shift_by_the_offset():
    piece = Piece("p", make_notes([(0, 1, 60, 90), (1, 2.5, 64, 80)]))
    rows = note_rows(piece, "continuation", offset=4.0)
    assert [(r["start"], r["end"], r["note"], r["part"]) for r in rows] == [
        (4.0, 5.0, "C4", "continuation"),
        (5.0, 6.5, "E4", "continuation"),
    ]


def test_piano_roll_of_seed_and_continuation_uses_two_colours(chorales):
    seed, cont = chorales[0], chorales[1]
    spec = piano_roll_chart([("seed", seed, 0.0), ("continuation", cont, 8.0)]).to_dict()
    rows = _values(spec)
    assert len(rows) == seed.n_notes + cont.n_notes
    assert min(r["start"] for r in rows if r["part"] == "continuation") >= 8.0
    assert spec["encoding"]["color"]["scale"]["range"] == [SEED_COLOR, CONTINUATION_COLOR]
    assert spec["mark"]["type"] == "bar"
    lo, hi = min(r["pitch"] for r in rows), max(r["pitch"] for r in rows)
    assert spec["encoding"]["y"]["scale"]["domain"] == list(range(hi + 1, lo - 2, -1))  # one row per semitone


def test_piano_roll_of_an_empty_piece_still_draws():
    spec = piano_roll_chart([("notes", Piece("empty", make_notes([])), 0.0)]).to_dict()
    assert _values(spec) == [] and spec["encoding"]["y"]["scale"]["domain"] == list(range(84, 47, -1))


def test_histograms_of_a_real_dataset(chorales):
    stats = dataset_stats(chorales[:4])
    pitches = _values(pitch_histogram_chart(stats.pitch_histogram).to_dict())
    lo, hi = stats.pitch_range
    assert [r["pitch"] for r in pitches] == list(range(lo, hi + 1))
    assert sum(r["count"] for r in pitches) == stats.notes
    lengths = _values(duration_histogram_chart(stats.duration_histogram).to_dict())
    assert [float(r["beats"]) for r in lengths] == sorted(float(r["beats"]) for r in lengths)
    assert sum(r["count"] for r in lengths) <= stats.notes


def test_loss_chart_places_batches_between_epochs():
    history = History.from_dict(
        {
            "batches_per_epoch": 4,
            "batches": [{"epoch": e, "batch": b, "loss": 5.0 - e - b / 10} for e in (1, 2) for b in range(1, 5)],
            "epochs": [{"epoch": 1, "loss": 3.6, "val_loss": 3.9}, {"epoch": 2, "loss": 2.6, "val_loss": None}],
        }
    )
    spec = loss_chart(history).to_dict()
    rows = _values(spec)
    batch_x = [r["epoch"] for r in rows if r["series"] == "loss (batches)"]
    assert batch_x == [0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0]
    assert [(r["epoch"], r["series"]) for r in rows if r["series"] != "loss (batches)"] == [
        (1.0, "loss"),
        (1.0, "validation loss"),
        (2.0, "loss"),
    ]
    assert len(spec["layer"]) == 2


def test_loss_chart_draws_validations_within_epochs_where_they_were():
    history = History.from_dict(
        {
            "batches_per_epoch": 4,
            "batches": [{"epoch": 1, "batch": b, "loss": 5.0 - b / 10} for b in range(1, 5)],
            "epochs": [{"epoch": 1, "loss": 4.6, "val_loss": 4.7}],
            "evals": [{"epoch_fraction": f, "batches": int(f * 4), "val_loss": 5.0 - f} for f in (0.5, 1.0)],
        }
    )
    rows = [r for r in _values(loss_chart(history).to_dict()) if r["series"] == "validation loss"]
    assert [(r["epoch"], r["loss"]) for r in rows] == [(0.5, 4.5), (1.0, 4.0)]  # not the epoch's copy too


def test_runs_loss_chart_one_line_per_run():
    histories = {
        "wavenet-run": History.from_dict({"epochs": [{"epoch": 1, "val_loss": 3.0}, {"epoch": 2, "val_loss": 2.5}]}),
        "lstm-run": History.from_dict({"epochs": [{"epoch": 1, "val_loss": 3.2}]}),
    }
    rows = _values(runs_loss_chart(histories).to_dict())
    assert sorted((r["run"], r["epoch"]) for r in rows) == [("lstm-run", 1), ("wavenet-run", 1), ("wavenet-run", 2)]


def test_the_piano_roll_draws_loudness_as_opacity_and_keeps_soft_notes_visible():
    piece = Piece("dyn", make_notes([(0, 1, 60, 1), (1, 2, 62, 64), (2, 3, 64, 127)]))
    spec = piano_roll_chart([("notes", piece, 0.0)]).to_dict()
    assert [r["velocity"] for r in _values(spec)] == [1, 64, 127]
    opacity = spec["encoding"]["opacity"]
    assert opacity["field"] == "velocity" and opacity["type"] == "quantitative"
    assert opacity["scale"]["domain"] == [1, 127] and opacity["scale"]["range"] == [0.25, 1.0]
    assert opacity["scale"]["clamp"] is True  # out-of-range velocities stay within 0.25..1
    assert {"field": "velocity", "type": "quantitative"} in spec["encoding"]["tooltip"]
    # the seed-and-continuation form keeps working, each part with its own velocities
    two = piano_roll_chart([("seed", piece, 0.0), ("continuation", piece, 3.0)], title="t", height=200).to_dict()
    assert [r["velocity"] for r in _values(two)] == [1, 64, 127] * 2 and two["encoding"]["opacity"] == opacity


def test_the_surprise_roll_tells_each_notes_velocity():
    piece = Piece("dyn", make_notes([(0, 1, 60, 20), (1, 2, 62, 110)]))
    spec = surprise_chart(piece, np.array([1.0, np.nan])).to_dict()
    assert [r["velocity"] for r in _values(spec)] == [20, 110]
    for layer in spec["layer"]:
        assert {"field": "velocity", "type": "quantitative"} in layer["encoding"]["tooltip"]


def test_velocity_histogram_chart_keeps_soft_to_loud_order():
    piece = Piece("swell", make_notes([(i / 2, i / 2 + 0.5, 60, 1 + 8 * (i % 16)) for i in range(48)]))
    stats = dataset_stats([piece])
    spec = velocity_histogram_chart(stats.velocity_histogram).to_dict()
    rows = _values(spec)
    assert [r["velocity"] for r in rows] == list(stats.velocity_histogram)  # "1-7", "8-15", ..., "120-127"
    assert spec["encoding"]["x"]["sort"] == list(stats.velocity_histogram)  # not alphabetical ("120-127" last)
    assert sum(r["notes"] for r in rows) == 48 and spec["title"] == "Velocities"
    loud = [r["loudness"] for r in rows]
    assert loud == sorted(loud) and spec["encoding"]["opacity"]["scale"]["range"] == [0.25, 1.0]


def test_the_piano_roll_draws_chords_over_the_notes():
    piece = Piece("p", make_notes([(0.0, 1.0, 60, 80), (4.0, 5.0, 69, 80)]))
    plain = piano_roll_chart([("notes", piece, 0.0)]).to_dict()
    spec = piano_roll_chart([("notes", piece, 0.0)], chords=[(0.0, 4.0, "C"), (4.0, 8.0, "Am")]).to_dict()
    assert "layer" not in plain and len(spec["layer"]) == 3  # the notes, a line per chord, its name
    names = [row["chord"] for rows in spec["datasets"].values() for row in rows if "chord" in row]
    assert names == ["C", "Am"] and spec["layer"][2]["mark"]["type"] == "text"
