"""The run directory: one folder per training under ``runs/<run-id>/``.

::

    config.json    every setting needed to rebuild the model and the tokens
    vocab.json     the vocabulary
    data.npz       the token ids of the train/validation split (resume and evaluation use it); a run
                   trained from a token store keeps a bounded sample of each split here instead
    store.json     only for a run trained from a token store: its path and manifest hash (the corpus stays there)
    history.json   per epoch and per batch: loss, val_loss, accuracy, time
    model.keras    the best model by validation loss
    last.keras     the latest checkpoint with optimizer state, for resume
    status.json    queued | running | stopped | finished | failed, a message, pid, host, time
    metrics.json   held-out NLL, perplexity, accuracy, and the n-gram baseline's
    stop           present while a stop is requested (any process may create it)

leaves half a file. Nothing here imports TensorFlow until a model is loaded.

One module per job: :mod:`~musegen.runs.layout` (the file names, states and limits, and the JSON
reader), :mod:`~musegen.runs.folders` (create, read, list, delete), :mod:`~musegen.runs.model` (the
model files), :mod:`~musegen.runs.status` (status and liveness), :mod:`~musegen.runs.history`
(history and metrics), :mod:`~musegen.runs.stop` (the stop flag) and :mod:`~musegen.runs.dataset`
(the stored split and pieces). Every public name is re-exported here (``runs.load_run(...)``).
"""

from __future__ import annotations

from musegen.fileio import atomic_write_bytes, atomic_write_json, atomic_write_text
from musegen.runs.dataset import (
    StoredDataset,
    StoreTempoMaps,
    load_dataset,
    piece_names,
    piece_tempos,
    save_dataset,
    save_store_reference,
    store_reference,
    store_tempo_maps,
    training_dataset,
)
from musegen.runs.folders import (
    RunInfo,
    create_run,
    delete_run,
    list_runs,
    load_run,
    load_run_model,
    new_run_dir,
    remove_temporary_files,
)
from musegen.runs.history import read_history, read_metrics, write_history, write_metrics
from musegen.runs.layout import (
    ACTIVE_STATES,
    CONFIG,
    DATA,
    DATA_MEMBERS,
    HISTORY,
    LAST,
    MAX_DATA_BYTES,
    MAX_JSON_BYTES,
    MAX_OTHER_JSON_BYTES,
    MB,
    METRICS,
    MODEL,
    PIECES,
    STATES,
    STATUS,
    STOP,
    STORE,
    VOCAB,
    read_json,
)
from musegen.runs.model import atomic_save_model, write_failure
from musegen.runs.status import STALE_S, pid_alive, read_status, write_status, written_by_me
from musegen.runs.stop import clear_stop, request_stop, stop_requested

__all__ = [
    "ACTIVE_STATES",
    "CONFIG",
    "DATA",
    "DATA_MEMBERS",
    "HISTORY",
    "LAST",
    "MAX_DATA_BYTES",
    "MAX_JSON_BYTES",
    "MAX_OTHER_JSON_BYTES",
    "MB",
    "METRICS",
    "MODEL",
    "PIECES",
    "STALE_S",
    "STATES",
    "STATUS",
    "STOP",
    "STORE",
    "VOCAB",
    "RunInfo",
    "StoreTempoMaps",
    "StoredDataset",
    "atomic_save_model",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "clear_stop",
    "create_run",
    "delete_run",
    "list_runs",
    "load_dataset",
    "load_run",
    "load_run_model",
    "new_run_dir",
    "pid_alive",
    "piece_names",
    "piece_tempos",
    "read_history",
    "read_json",
    "read_metrics",
    "read_status",
    "remove_temporary_files",
    "request_stop",
    "save_dataset",
    "save_store_reference",
    "stop_requested",
    "store_reference",
    "store_tempo_maps",
    "training_dataset",
    "write_failure",
    "write_history",
    "write_metrics",
    "write_status",
    "written_by_me",
]
