"""A training job's state in words: the progress line and what a waiting or failed job means."""

from __future__ import annotations

from pathlib import Path

from musegen.training.jobs import JobStatus
from musegen.training.status import fmt_duration, fmt_loss, notice, progress_line


def _job(state: str, **fields: object) -> JobStatus:
    return JobStatus(run_dir=Path("r"), run_id="r1", state=state, message=str(fields.pop("message", "")), **fields)


def test_durations_read_as_people_say_them():
    assert [fmt_duration(s) for s in (None, 0.4, 12, 185, 3725)] == ["–", "0 s", "12 s", "3 min 05 s", "1 h 02 min"]


def test_a_loss_has_four_decimals_or_a_dash():
    assert (fmt_loss(None), fmt_loss(1.23456)) == ("–", "1.2346")


def test_the_progress_line_says_where_a_running_job_is_and_how_long_it_has_left():
    job = _job("running", epoch=2, epochs=20, batch=7, batches=40, elapsed_s=65, eta_s=540)
    assert progress_line(job) == "Epoch 2/20 · batch 7/40 · 1 min 05 s elapsed · about 9 min 00 s left"
    assert progress_line(_job("stopped", epoch=2, epochs=20, batch=7, batches=40, elapsed_s=65, eta_s=540)).endswith(
        "elapsed"
    )  # no time left to promise once it ended
    assert progress_line(_job("running")) == "Preparing the data and the model…"
    assert progress_line(_job("queued")) == ""


def test_a_notice_says_what_a_waiting_or_failed_job_means():
    waiting = notice(_job("queued", queue_position=2, running=1, limit=1))
    assert waiting is not None and waiting.kind == "info"
    assert "1 of 1 trainings are running; this one is number 2 in the queue" in waiting.text
    failed = notice(_job("failed", message="no training windows"))
    assert failed is not None and (failed.kind, failed.text) == ("error", "Training failed: no training windows")
    assert "start again" in failed.hint
    assert notice(_job("failed", message="killed", resumable=True)).hint == ""  # Resume is the way on
    assert notice(_job("finished", message="all epochs done")).kind == "note"
    assert notice(_job("finished")) is None
