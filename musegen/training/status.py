"""A training job's state in words, for people: its progress line and what its state means for them.

The Train page shows these beside the live loss chart; they read only a
:class:`~musegen.training.jobs.JobStatus`, so anything that polls a job can show the same.
"""

from __future__ import annotations

from dataclasses import dataclass

from musegen.training.jobs import JobStatus


def fmt_duration(seconds: float | None) -> str:
    """12 s, 3 min 05 s, 1 h 02 min (a dash when unknown)."""
    if seconds is None:
        return "–"
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def fmt_loss(value: float | None) -> str:
    """A loss with four decimals (a dash before there is one)."""
    return "–" if value is None else f"{value:.4f}"


def progress_line(js: JobStatus) -> str:
    """ "Epoch 2/20 · batch 7/40 · 1 min 05 s elapsed · about 9 min left" ("" before training begins)."""
    if not js.batches:
        return "Preparing the data and the model…" if js.state == "running" else ""
    text = f"Epoch {js.epoch}/{js.epochs} · batch {js.batch}/{js.batches} · {fmt_duration(js.elapsed_s)} elapsed"
    if js.active and js.eta_s is not None:
        text += f" · about {fmt_duration(js.eta_s)} left"
    return text


@dataclass(frozen=True)
class Notice:
    """What a job's state means for the person who started it."""

    kind: str  # "info" (waiting), "error" (failed) or "note" (any other message)
    text: str
    hint: str = ""  # what to do about it


def notice(js: JobStatus) -> Notice | None:
    """The queue place of a waiting job, the reason a job failed, or its last message (None: nothing to say)."""
    if js.state == "queued":
        where = f"number {js.queue_position} in the queue" if js.queue_position else "in the queue"
        return Notice(
            "info",
            f"Waiting for a free training slot: {js.running} of {js.limit} trainings are running; this one is "
            f"{where}. It starts by itself.",
        )
    if js.state == "failed":
        hint = "" if js.resumable else "Check the settings (a smaller window, more pieces) and start again."
        return Notice("error", f"Training failed: {js.message}", hint)
    return Notice("note", js.message) if js.message else None
