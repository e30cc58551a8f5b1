"""What a run folder holds: its files' names, the run states, the limits on what each file may
hold, and :func:`read_json`, the run folder's JSON reader (:func:`musegen.jsonio.read_json_file`
with the file's own limit, its errors worded as a damaged run)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from musegen.errors import RunNotFoundError
from musegen.jsonio import JsonError, read_json_file

CONFIG, VOCAB, DATA, HISTORY = "config.json", "vocab.json", "data.npz", "history.json"
PIECES = "pieces.json"  # names of the stored pieces, for seed pickers
STORE = "store.json"  # the token store a run trained from (musegen.streams.store)
MODEL, LAST, STATUS, METRICS, STOP = "model.keras", "last.keras", "status.json", "metrics.json", "stop"
STATES = ("queued", "running", "stopped", "finished", "failed")
ACTIVE_STATES = ("queued", "running")
MB = 1024 * 1024
# What a run folder's files may hold (a shared runs folder is read by every page: a damaged or hostile
# file must cost little and give a reason). history.json grows with the batches recorded; the rest are small.
MAX_JSON_BYTES = {HISTORY: 64 * MB}
MAX_OTHER_JSON_BYTES = 16 * MB  # config, status, metrics, vocab, pieces, job.json (a few KB in practice)
MAX_DATA_BYTES = 2048 * MB  # data.npz's arrays, unpacked (a 5,000-file dataset of timed tokens is ~100 MB)
DATA_MEMBERS = ("train_ids", "train_lengths", "val_ids", "val_lengths")
# what each kind of damage is told to do (musegen.jsonio.JsonError.reason)
_DAMAGED = {
    "unreadable": "the run folder is damaged.",
    "not a file": "the run folder is damaged. Remove it, or train the run again.",
    "too large": "the run folder is damaged.",
    "invalid": "the run folder is damaged. Train the run again.",
}


def read_json(file: str | Path, default: Any, *, max_bytes: int | None = None) -> Any:
    """A run folder's JSON file, or ``default`` when there is none; RunNotFoundError when it is damaged.

    Never more than ``max_bytes`` (the file's own limit by default) is read, nesting is limited
    (:func:`musegen.jsonio.parse_json`), and a folder, device or FIFO where the file should be
    is refused without being opened: one damaged file costs milliseconds and gives a reason.
    """
    file = Path(file)
    limit = max_bytes or MAX_JSON_BYTES.get(file.name, MAX_OTHER_JSON_BYTES)
    try:
        return read_json_file(file, default, max_bytes=limit)
    except JsonError as exc:
        raise RunNotFoundError(f"{exc}; {_DAMAGED.get(exc.reason, _DAMAGED['invalid'])}") from exc.__cause__
