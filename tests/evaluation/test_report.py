"""What people read about runs: one set of metric rows for the pages and the CLI, in each representation's unit."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from musegen.evaluation.report import (
    METRIC_COLUMNS,
    MUSIC_COLUMNS,
    floor_name,
    format_metrics,
    held_out_summary,
    metric_rows,
    music_rows,
    run_row,
    run_summary,
)
from musegen.metrics.music import piece_stats
from musegen.records import EpochRecord, History, Metrics, Scores
from musegen.runs import RunInfo
from tests.training_helpers import tiny_config


def _metrics(representation: str = "timed", *, frames: bool = False, beats: bool = True) -> Metrics:
    width = 88 if frames else 163
    return Metrics(
        model=Scores(nll=1.5, perplexity=4.48, accuracy=0.6, tokens=900),
        baseline=Scores(nll=2.0, perplexity=7.39, accuracy=0.5, tokens=900, kind="n-gram", order=4),
        uniform_nll=width * math.log(2.0) if frames else math.log(width),
        vocab_size=width,
        val_pieces=3,
        val_tokens=1234,
        arch="wavenet",
        representation=representation,
        unit="frame" if frames else "token",
        beats_baseline=beats,
    )


def test_token_runs_show_the_model_the_ngram_and_a_uniform_guess_per_token():
    rows = metric_rows(_metrics())
    assert [r["model"] for r in rows] == ["wavenet", "4-gram baseline", "uniform guess"]
    assert all(set(r) == set(METRIC_COLUMNS) for r in rows)
    assert rows[0]["NLL"] == 1.5 and rows[1]["accuracy"] == 0.5 and rows[2]["accuracy"] is None
    assert rows[2]["perplexity"] == pytest.approx(163)  # as unsure as a choice among the whole vocabulary


def test_frame_runs_show_the_markov_floor_and_a_perplexity_per_key():
    rows = metric_rows(_metrics("pianoroll", frames=True))
    assert [r["model"] for r in rows] == ["wavenet", "per-key Markov floor", "uniform guess"]
    assert rows[2]["NLL"] == pytest.approx(88 * math.log(2)) and rows[2]["perplexity"] == pytest.approx(2.0)


def test_the_summary_names_the_floor_and_says_whether_the_model_beats_it():
    assert floor_name(_metrics()) == "n-gram baseline"  # whatever order it took
    assert held_out_summary(_metrics(), strong=lambda s: f"**{s}**") == (
        "Held out: **3 pieces, 1,234 tokens**. The model **beats** the n-gram baseline (lower NLL is better)."
    )
    frames = held_out_summary(_metrics("pianoroll", frames=True, beats=False))
    assert frames.startswith("Held out: 3 pieces, 1,234 frames. The model does not beat yet the per-key Markov floor")


def test_the_command_line_prints_the_same_rows():
    text = format_metrics(_metrics("pianoroll", frames=True))
    lines = text.splitlines()
    assert lines[0].split() == ["pianoroll,", "per", "frame", "NLL", "perplexity", "accuracy"]
    assert lines[2].startswith("per-key Markov floor") and "2-gram" not in text
    assert lines[3].split()[-2:] == ["60.9970", "2.00"]  # the uniform guess: a fair coin per key, not 88
    assert "1,234 frames" in lines[4] and "-gram" in format_metrics(_metrics())


def test_a_run_row_and_summary_read_the_typed_records():
    history = History(epochs=[EpochRecord(epoch=1, loss=2.0), EpochRecord(epoch=2, loss=1.5)], best_value=1.75)
    info = RunInfo(Path("r"), "r1", tiny_config(), "finished", history=history, metrics=_metrics())
    row = run_row(info)
    assert row["model"] == "wavenet · timed" and row["epochs"] == 2 and row["best loss"] == 1.75
    assert (row["held-out NLL"], row["floor NLL"], row["beats floor"]) == (1.5, 2.0, True)
    assert run_row(info, demo=True)["status"] == "demo" and row["started from"] == "scratch"
    tuned = tiny_config()
    tuned.base = "/somewhere/assets/models/musegen-base"
    assert run_row(RunInfo(Path("t"), "t1", tuned, "finished", history=history))["started from"] == "musegen-base"
    bare = run_row(RunInfo(Path("b"), "b1", None, "broken", message="config.json is damaged"))
    assert bare["model"] == "" and bare["held-out NLL"] is None and bare["beats floor"] is None
    summary = run_summary(info)
    assert summary.startswith("wavenet · timed tokens · window ") and summary.endswith("2 epochs · best loss 1.750")
    assert run_summary(RunInfo(Path("b"), "b1", None, "broken", message="damaged")) == "damaged"


def test_music_rows_put_the_real_music_mean_last(chorales):
    generated = [piece_stats(p) for p in chorales[:2]]
    real = [piece_stats(p) for p in chorales[2:5]]
    rows = music_rows(generated, real)
    labels = {c.label for c in MUSIC_COLUMNS}
    assert len(rows) == 3 and all(labels <= set(r) for r in rows)
    assert rows[0]["piece"] == chorales[0].name and rows[0]["notes"] == chorales[0].n_notes
    assert rows[-1]["piece"] == "real music (mean of 3)" and rows[-1]["key"] == ""
    assert rows[-1]["notes"] == pytest.approx(sum(s.n_notes for s in real) / 3)
    assert len(music_rows(generated)) == 2
