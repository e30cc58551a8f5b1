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

Every file is written to a temporary name in the same folder and renamed, so a crash never
leaves half a file. Nothing here imports TensorFlow until a model is loaded.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import re
import secrets
import shutil
import socket
import stat
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from musegen.config import RunConfig
from musegen.errors import ConfigError, ModelLoadError, MusegenError, RunNotFoundError, TrainingError
from musegen.fileio import (
    atomic_write,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    make_dirs,
    storage_error,
)
from musegen.modelfile import JsonError, check_model_file, parse_json
from musegen.records import History, Metrics
from musegen.representations.registry import check, for_vocab
from musegen.streams.store import load_store_dataset, open_store
from musegen.vocabulary import Vocabulary

if TYPE_CHECKING:
    import keras

__all__ = [
    "STATES",
    "RunInfo",
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
    "training_dataset",
    "write_history",
    "write_metrics",
    "write_status",
    "written_by_me",
]

CONFIG, VOCAB, DATA, HISTORY = "config.json", "vocab.json", "data.npz", "history.json"
PIECES = "pieces.json"  # names of the stored pieces, for seed pickers
STORE = "store.json"  # the token store a run trained from (musegen.streams.store)
MODEL, LAST, STATUS, METRICS, STOP = "model.keras", "last.keras", "status.json", "metrics.json", "stop"
STATES = ("queued", "running", "stopped", "finished", "failed")
ACTIVE_STATES = ("queued", "running")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
MB = 1024 * 1024
# What a run folder's files may hold (a shared runs folder is read by every page: a damaged or hostile
# file must cost little and give a reason). history.json grows with the batches recorded; the rest are small.
MAX_JSON_BYTES = {HISTORY: 64 * MB}
MAX_OTHER_JSON_BYTES = 16 * MB  # config, status, metrics, vocab, pieces, job.json (a few KB in practice)
MAX_DATA_BYTES = 2048 * MB  # data.npz's arrays, unpacked (a 5,000-file dataset of timed tokens is ~100 MB)
DATA_MEMBERS = ("train_ids", "train_lengths", "val_ids", "val_lengths")


@dataclass
class RunInfo:
    """What a run folder holds, read without loading the model.

    ``status`` is one of :data:`STATES`, or ``"broken"`` when the folder cannot be read
    (then ``config`` is ``None`` and ``message`` says why; only :func:`list_runs` returns these).
    """

    path: Path
    run_id: str
    config: RunConfig | None
    status: str
    message: str = ""
    updated: float = 0.0  # time.time() of the last status change
    pid: int | None = None
    history: History = field(default_factory=History)
    metrics: Metrics | None = None

    @property
    def has_model(self) -> bool:
        return (self.path / MODEL).is_file()

    @property
    def can_resume(self) -> bool:
        return (self.path / LAST).is_file() and self.status not in ACTIVE_STATES

    @property
    def epochs_done(self) -> int:
        return self.history.epochs_done

    @property
    def best_val_loss(self) -> float | None:
        value = self.history.best_value
        return None if value is None else float(value)

    def vocab(self) -> Vocabulary:
        return Vocabulary.load(self.path / VOCAB)

    def load_model(self, which: str = "best") -> keras.Model:
        return load_run_model(self.path, which)


@dataclass
class StoredDataset:
    """The token split saved with a run: what ``training.train`` and evaluation need of a SequenceDataset."""

    vocab: Vocabulary
    train: list[np.ndarray]
    val: list[np.ndarray]


# ---------------------------------------------------------------- create, list, load, delete


def create_run(
    runs_dir: str | Path, config: RunConfig, vocab: Vocabulary, name: str | None = None, *, overwrite: bool = False
) -> Path:
    """Make a new run folder with config.json, vocab.json and status ``queued``; return its path.

    Without ``name`` the id is ``<YYYYmmdd-HHMMSS>-<arch>-<random>``, unique even when several
    processes create runs at once (the folder is created with ``exist_ok=False``). With ``name``
    (e.g. ``demo-wavenet``) an existing run of that name is an error unless ``overwrite``.
    """
    check(config)
    runs_dir = make_dirs(runs_dir)
    if name is not None:
        if not _NAME_RE.match(name):
            raise ConfigError(f"run name {name!r} is not allowed: use letters, digits, '.', '_' and '-' (max 100).")
        path = runs_dir / name
        if path.exists():
            if not overwrite:
                raise ConfigError(f"a run named {name!r} already exists in {runs_dir}; delete it or choose another.")
            delete_run(path)
        try:
            path.mkdir()
        except OSError as exc:
            raise storage_error(exc, path, "create the run folder") from exc
    else:
        path = new_run_dir(runs_dir, config.model.arch)
    atomic_write_text(path / CONFIG, config.to_json())
    atomic_write_json(path / VOCAB, vocab.to_dict())
    write_status(path, "queued")
    return path


def new_run_dir(runs_dir: str | Path, arch: str) -> Path:
    """A new, empty run folder ``<YYYYmmdd-HHMMSS>-<arch>-<random>``: the one run-id scheme.

    Unique even when several processes create runs at once (``mkdir`` without ``exist_ok``).
    """
    runs_dir = make_dirs(runs_dir)
    for _ in range(20):
        run_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{arch}-{secrets.token_hex(3)}"
        try:
            (runs_dir / run_id).mkdir()
        except FileExistsError:
            continue
        except OSError as exc:
            raise storage_error(exc, runs_dir / run_id, "create the run folder") from exc
        return runs_dir / run_id
    raise TrainingError(f"could not create a unique run folder in {runs_dir}; check that it is writable.")


def load_run(path: str | Path) -> RunInfo:
    """Read a run folder (config, status, history, metrics); the model is not loaded."""
    path = Path(path)
    if not path.is_dir():
        raise RunNotFoundError(f"no run folder at {path}; pick one listed by the Runs page or under runs/.")
    if not os.path.lexists(path / CONFIG):
        raise RunNotFoundError(f"{path} is not a musegen run (no {CONFIG}); train a model to create one.")
    config = _read_config(path / CONFIG)  # a folder or a device where the file should be: a reason, not a hang
    status = read_status(path)
    updated = status.get("updated", 0.0)
    pid = status.get("pid")
    return RunInfo(
        path=path,
        run_id=path.name,
        config=config,
        status=status["state"],
        message=str(status.get("message", "") or ""),
        updated=float(updated) if _is_number(updated) and updated == updated else 0.0,
        pid=pid if isinstance(pid, int) and not isinstance(pid, bool) else None,
        history=read_history(path),
        metrics=read_metrics(path),
    )


def _read_config(file: Path) -> RunConfig:
    """The run's config.json, parsed with limits and validated; RunNotFoundError or ConfigError says what is wrong."""
    raw = read_json(file, default=None)
    if raw is None:
        raise RunNotFoundError(f"{file.parent} is not a musegen run (no {CONFIG}); train a model to create one.")
    try:
        config = RunConfig.from_dict(raw)
        config.validate()
    except ConfigError as exc:
        raise ConfigError(f"{file} is not a valid musegen configuration: {exc} Train the run again.") from exc
    except (AttributeError, TypeError, ValueError, KeyError) as exc:  # a field of the wrong type or shape
        raise ConfigError(
            f"{file} is not a valid musegen configuration ({type(exc).__name__}: {exc}); the run folder is "
            "damaged. Train the run again."
        ) from exc
    return config


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def list_runs(runs_dir: str | Path) -> list[RunInfo]:
    """Every run under ``runs_dir``, newest first. Unreadable folders come back as status ``broken``."""
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        return []
    runs = []
    try:
        entries = sorted(runs_dir.iterdir())
    except OSError as exc:
        raise storage_error(exc, runs_dir, "list the runs in") from exc  # a StorageError: the pages show it
    for path in entries:
        if path.name.startswith(".") or not _looks_like_run(path):
            continue  # not a run (a stray file or folder): nothing to report
        try:
            runs.append(load_run(path))
        except MusegenError as exc:
            runs.append(RunInfo(path=path, run_id=path.name, config=None, status="broken", message=str(exc)))
        except Exception as exc:  # one damaged folder must never hide the others
            message = (
                f"the run folder is damaged ({type(exc).__name__}: {str(exc)[:200]}); delete it or train it again."
            )
            runs.append(RunInfo(path=path, run_id=path.name, config=None, status="broken", message=message))
    return sorted(runs, key=lambda r: (r.updated, r.run_id), reverse=True)


def _looks_like_run(path: Path) -> bool:
    """A folder with something named config.json in it (a file, or a folder or link where the file should be)."""
    try:
        return path.is_dir() and os.path.lexists(path / CONFIG)
    except OSError:
        return False


def delete_run(path: str | Path) -> None:
    """Remove a run folder. Refuses folders that are not runs, and runs still training (queued ones go)."""
    path = Path(path)
    if not (path / CONFIG).is_file():
        raise RunNotFoundError(f"{path} is not a musegen run (no {CONFIG}); nothing was deleted.")
    status = read_status(path)  # a dead "running" process reads as failed
    if status["state"] == "running":
        raise TrainingError(f"run {path.name} is still training (pid {status.get('pid')}); stop it first.")
    try:
        shutil.rmtree(path)
    except OSError as exc:
        raise storage_error(exc, path, "delete") from exc


def load_run_model(path: str | Path, which: str = "best") -> keras.Model:
    """Load ``model.keras`` (``which="best"``) or ``last.keras`` (``"last"``) with ``safe_mode=True``."""
    if which not in ("best", "last"):
        raise ConfigError(f"which must be 'best' or 'last', got {which!r}.")
    info = load_run(path)
    file = info.path / (MODEL if which == "best" else LAST)
    if not file.is_file():
        raise ModelLoadError(f"run {info.run_id} has no {file.name} yet; wait for the first epoch to finish.")
    check_model_file(file)  # a damaged file is refused before TensorFlow is imported
    from musegen.models import load_model

    model = load_model(file)
    _check_vocabulary(model, info, file)
    return model


def _check_vocabulary(model: keras.Model, info: RunInfo, file: Path) -> None:
    """A model file copied from another run predicts another vocabulary: refuse it (its tokens would be garbage)."""
    vocab = info.vocab()
    expected = for_vocab(vocab).output_width()  # the vocabulary, or the keys of a piano roll
    width = model.outputs[0].shape[-1]
    if width is not None and int(width) != expected:
        raise ModelLoadError(
            f"{file} predicts {int(width)} tokens but run {info.run_id}'s vocabulary has {expected}: the model "
            "comes from another run or dataset. Put back the run's own model, or train this run again."
        )


# ---------------------------------------------------------------- status, history, metrics, stop


def write_status(path: str | Path, state: str, message: str = "", **extra: Any) -> None:
    """Record the run's state with this process's pid and host and the current time."""
    if state not in STATES:
        raise ConfigError(f"run state must be one of {STATES}, got {state!r}.")
    status = {"state": state, "message": message, "pid": os.getpid(), "host": socket.gethostname()}
    status.update(extra, updated=time.time())
    atomic_write_json(Path(path) / STATUS, status)


def read_status(path: str | Path) -> dict[str, Any]:
    """The status dict; a run whose training process died while running reads as ``failed``."""
    file = Path(path) / STATUS
    status = read_json(file, default={"state": "queued", "message": ""})
    if not isinstance(status, dict):
        raise RunNotFoundError(
            f"{file} holds a {type(status).__name__}, not a run status; the run folder is damaged. Train it again."
        )
    state = status.get("state")
    if not isinstance(state, str) or state not in STATES:
        raise RunNotFoundError(f"{file} has an unknown state {str(state)[:40]!r}; the run folder is damaged.")
    if status["state"] == "running" and not _alive(status, Path(path)):
        status = {
            **status,
            "state": "failed",
            "message": f"the training process (pid {status.get('pid')} on {status.get('host') or 'this host'}) "
            "ended without finishing; resume the run to continue from its last checkpoint.",
        }
    return status


def written_by_me(status: dict[str, Any]) -> bool:
    """Whether this process wrote ``status`` (a job worker may mark a run running before training it)."""
    return status.get("pid") == os.getpid() and status.get("host") in (None, socket.gethostname())


STALE_S = 30 * 60  # another host's "running" run that wrote nothing for this long has lost its process


def _alive(status: dict[str, Any], run_dir: Path) -> bool:
    """Whether the process that wrote ``status`` still runs. Another host's process cannot be asked: it
    counts as alive while the run folder shows signs of life (a training writes history.json every few
    seconds, status.json every epoch), so a chief that died on a host that is gone (a rescheduled pod, a
    lost node) lets the run be resumed elsewhere after ``STALE_S``."""
    pid = status.get("pid")
    if not isinstance(pid, int):
        return True
    if status.get("host") not in (None, socket.gethostname()):
        return _last_write(run_dir, status) > time.time() - STALE_S
    return pid_alive(pid)


def _last_write(run_dir: Path, status: dict[str, Any]) -> float:
    """When the run folder was last written by its training: status.json's time, history.json's mtime."""
    updated = status.get("updated")
    times = [float(updated) if isinstance(updated, int | float) else 0.0]
    with contextlib.suppress(OSError):
        times.append((run_dir / HISTORY).stat().st_mtime)
    return max(times)


def pid_alive(pid: Any) -> bool:
    """Whether a process of this id exists on this machine (one of another user's counts)."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_history(path: str | Path) -> History:
    """The run's history.json (empty before the first epoch)."""
    file = Path(path) / HISTORY
    try:
        return History.from_dict(read_json(file, default={}))
    except (TypeError, ValueError) as exc:
        raise RunNotFoundError(f"{file} does not hold a training history ({exc}); the run folder is damaged.") from exc


def write_history(path: str | Path, history: History) -> None:
    atomic_write_json(Path(path) / HISTORY, history.to_dict())


def read_metrics(path: str | Path) -> Metrics | None:
    """The run's metrics.json, or None when it was not evaluated."""
    file = Path(path) / METRICS
    raw = read_json(file, default=None)
    if raw is None:
        return None
    try:
        return Metrics.from_dict(raw)
    except (TypeError, ValueError) as exc:
        raise RunNotFoundError(f"{file} does not hold held-out metrics ({exc}); the run folder is damaged.") from exc


def write_metrics(path: str | Path, metrics: Metrics) -> None:
    atomic_write_json(Path(path) / METRICS, metrics.to_dict())


def request_stop(path: str | Path) -> None:
    """Ask the training of this run to stop after the current batch (from any thread or process)."""
    path = Path(path)
    if not (path / CONFIG).is_file():
        raise RunNotFoundError(f"{path} is not a musegen run; nothing to stop.")
    atomic_write_text(path / STOP, f"{time.time()}\n")


def stop_requested(path: str | Path) -> bool:
    return (Path(path) / STOP).exists()


def clear_stop(path: str | Path) -> None:
    (Path(path) / STOP).unlink(missing_ok=True)


def read_json(file: str | Path, default: Any, *, max_bytes: int | None = None) -> Any:
    """A run folder's JSON file, or ``default`` when there is none; RunNotFoundError when it is damaged.

    Never more than ``max_bytes`` (the file's own limit by default) is read, nesting is limited
    (:func:`musegen.modelfile.parse_json`), and a folder, device or FIFO where the file should be
    is refused without being opened: one damaged file costs milliseconds and gives a reason.
    """
    file = Path(file)
    limit = max_bytes or MAX_JSON_BYTES.get(file.name, MAX_OTHER_JSON_BYTES)
    try:
        info = file.stat()
    except FileNotFoundError:
        return default
    except OSError as exc:
        raise RunNotFoundError(f"{file} is unreadable ({exc}); the run folder is damaged.") from exc
    if not stat.S_ISREG(info.st_mode):
        kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise RunNotFoundError(f"{file} is {kind}; the run folder is damaged. Remove it, or train the run again.")
    if info.st_size > limit:
        raise RunNotFoundError(
            f"{file} is {info.st_size / MB:,.1f} MB, over the limit of {limit / MB:.0f} MB; the run folder is damaged."
        )
    try:
        with file.open("rb") as fh:
            data = fh.read(limit + 1)
        return parse_json(data, str(file), max_bytes=limit)
    except JsonError as exc:
        raise RunNotFoundError(f"{exc}; the run folder is damaged. Train the run again.") from None
    except OSError as exc:
        raise RunNotFoundError(f"{file} is unreadable ({exc}); the run folder is damaged.") from exc


# ---------------------------------------------------------------- model and data files


def atomic_save_model(model: keras.Model, path: str | Path) -> None:
    """Save a Keras model (with optimizer state) to a temporary ``.keras`` file, then rename it."""
    atomic_write(path, lambda tmp: model.save(tmp), suffix=".tmp.keras")


def remove_temporary_files(path: str | Path) -> list[Path]:
    """Delete the temporary files a killed writer left behind (``.<name>.*.tmp``, ``.*.tmp.keras``).

    Only for a run no live process writes (``train(resume=True)`` calls it first). The files
    under their final names are never touched: they are complete, thanks to the renames.
    """
    removed = []
    for file in Path(path).iterdir():
        if file.name.startswith(".") and file.name.endswith((".tmp", ".tmp.keras")) and file.is_file():
            file.unlink(missing_ok=True)
            removed.append(file)
    return removed


def save_dataset(
    path: str | Path,
    train: list[np.ndarray],
    val: list[np.ndarray],
    names: tuple[list[str], list[str]] | None = None,
    *,
    tempos: tuple[list[float], list[float]] | None = None,
) -> None:
    """Store the token ids of the split as ``data.npz`` (flat ids + lengths, no pickle), and the
    pieces' names, when given as (train names, validation names), as ``pieces.json``, with the tempo each
    piece plays at (``train_tempo``, ``val_tempo``: BPM) when ``tempos`` holds one per piece.

    Token ids are stored as int32; piano-roll frames ((T, 88) arrays of 0 and 1) as uint8, one byte a key.
    """
    arrays: dict[str, np.ndarray] = {}
    for split, seqs in (("train", train), ("val", val)):
        lengths = np.array([len(s) for s in seqs], dtype=np.int64)
        dtype = np.uint8 if seqs and np.ndim(seqs[0]) == 2 else np.int32  # frames: 0/1 keys
        flat = np.concatenate([np.asarray(s, dtype=dtype) for s in seqs]) if seqs else np.zeros(0, np.int32)
        flat = np.ascontiguousarray(flat)  # C order (frames read from a .mat file come in Fortran order)
        arrays[f"{split}_ids"], arrays[f"{split}_lengths"] = flat, lengths
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    atomic_write_bytes(Path(path) / DATA, buf.getvalue())
    if names is not None:
        record: dict[str, list] = {"train": list(names[0]), "val": list(names[1])}
        if tempos is not None and len(tempos[0]) == len(train) and len(tempos[1]) == len(val):
            record["train_tempo"] = [float(t) for t in tempos[0]]
            record["val_tempo"] = [float(t) for t in tempos[1]]
        atomic_write_json(Path(path) / PIECES, record)


def save_store_reference(path: str | Path, reference: dict[str, Any]) -> None:
    """Record the token store a run trains from (``TokenStore.reference()``: path, manifest hash, counts)."""
    atomic_write_json(Path(path) / STORE, reference)


def store_reference(path: str | Path) -> dict[str, Any] | None:
    """The run's store.json (path, manifest_hash, counts), or None for a run trained from files."""
    ref = read_json(Path(path) / STORE, default=None)
    if ref is None:
        return None
    if not isinstance(ref, dict) or not all(isinstance(ref.get(k), str) for k in ("path", "manifest_hash")):
        raise RunNotFoundError(f"{Path(path) / STORE} does not name a token store; the run folder is damaged.")
    return ref


def training_dataset(path: str | Path) -> Any:
    """What a run resumes on: its token store, when it trained from one (checked against the manifest hash
    it recorded), else the split stored in its data.npz (:func:`load_dataset`)."""
    path = Path(path)
    ref = store_reference(path)
    if ref is None:
        return load_dataset(path)
    store = open_store(ref["path"])  # the corpus of a store run is in its store, not in the run folder
    if store.manifest_hash != ref["manifest_hash"]:
        raise ConfigError(
            f"the store {ref['path']} was ingested again since run {path.name} trained on it; resuming would "
            "train on other data. Start a new run from the store instead."
        )
    return load_store_dataset(store, fim=Vocabulary.load(path / VOCAB).fim_ids() is not None)


def piece_names(path: str | Path) -> dict[str, list[str]]:
    """{"train": [...], "val": [...]}: the names of a run's stored pieces, or {} when it has none."""
    try:
        names = read_json(Path(path) / PIECES, default={})
    except RunNotFoundError:
        return {}  # the names are for people: a damaged file only costs the labels
    if not isinstance(names, dict):
        return {}
    return {
        split: [str(n)[:200] for n in names[split]]
        for split in ("train", "val")
        if isinstance(names.get(split), list) and all(isinstance(n, str) for n in names[split])
    }


def piece_tempos(path: str | Path) -> dict[str, list[float]]:
    """{"train": [...], "val": [...]}: the tempo (BPM) each stored piece plays at, or {} when the run did not
    record them (runs from before tempos were kept, and the demo models, play at the page's default)."""
    try:
        record = read_json(Path(path) / PIECES, default={})
    except RunNotFoundError:
        return {}
    if not isinstance(record, dict):
        return {}
    out = {}
    for split in ("train", "val"):
        values = record.get(f"{split}_tempo")
        if isinstance(values, list) and all(isinstance(t, int | float) and 20 <= t <= 400 for t in values):
            out[split] = [float(t) for t in values]
    return out


def load_dataset(path: str | Path) -> StoredDataset:
    """The vocabulary and train/validation token ids (int32) or frames (uint8) stored with a run.

    Frames stored as int32 (run folders written before frames were stored as uint8) load the same.
    """
    path = Path(path)
    file = path / DATA
    if not file.is_file():
        raise RunNotFoundError(f"run {path.name} has no {DATA} (its training never started); train it again.")
    vocab = Vocabulary.load(path / VOCAB)
    rep = for_vocab(vocab)
    width = rep.output_width()
    try:
        arrays = _read_npz(file)
        splits = {s: _split(arrays[f"{s}_ids"], arrays[f"{s}_lengths"], len(vocab), width) for s in ("train", "val")}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise RunNotFoundError(f"{file} is damaged ({str(exc)[:300]}); train the run again.") from exc
    train = splits["train"]
    if rep.transposes_on_the_fly:
        # piano-roll runs written before transposition moved into the training pipeline stored every
        # transposed copy ("name (+2)"); the pipeline makes them again, so each piece is kept once
        names = piece_names(path).get("train", [])
        if len(names) == len(train):
            train = [seq for seq, name in zip(train, names, strict=True) if not _TRANSPOSED.search(name)]
    return StoredDataset(vocab=vocab, train=train, val=splits["val"])


_TRANSPOSED = re.compile(r" \([+-]\d+\)$")  # the name of a transposed copy: "chorale 3 (+2)"


def _read_npz(file: Path) -> dict[str, np.ndarray]:
    """data.npz's four arrays, read with limits: the unpacked sizes from the zip's directory and every
    array's header (dtype and shape) are checked before its data is inflated, so a 4 MB file that
    would unpack to 4 GB is refused at once (``np.load`` would inflate whatever a member holds)."""
    with zipfile.ZipFile(file) as zf:
        infos = zf.infolist()
        if len(infos) > 2 * len(DATA_MEMBERS):
            raise ValueError(f"it holds {len(infos)} members; a run's data has {len(DATA_MEMBERS)}")
        by_name = {i.filename.removesuffix(".npy"): i for i in infos}
        missing = [n for n in DATA_MEMBERS if n not in by_name]
        if missing:
            raise KeyError(f"no array {missing[0]!r}")
        members = [by_name[n] for n in DATA_MEMBERS]
        if any(i.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) for i in members):
            raise ValueError("an array is compressed with a method numpy does not write")
        unpacked = sum(i.file_size for i in members)
        if unpacked > MAX_DATA_BYTES:
            raise ValueError(
                f"its arrays unpack to {unpacked / MB:,.0f} MB, over the limit of {MAX_DATA_BYTES / MB:,.0f} MB"
            )
        arrays = {}
        for name, info in zip(DATA_MEMBERS, members, strict=True):
            with zf.open(info) as fh:
                arrays[name] = _read_array(fh, name, info.file_size)
    return arrays


def _read_array(fh: Any, name: str, member_bytes: int) -> np.ndarray:
    """One .npy member: its header checked (integers, at most 2-D, no more data than the member holds)."""
    version = np.lib.format.read_magic(fh)
    if version == (1, 0):
        shape, _fortran, dtype = np.lib.format.read_array_header_1_0(fh, max_header_size=10_000)
    else:
        shape, _fortran, dtype = np.lib.format.read_array_header_2_0(fh, max_header_size=10_000)
    if dtype.kind not in "iu" or dtype.hasobject:
        raise ValueError(f"{name} holds {dtype} values, not integers")
    if len(shape) > 2:
        raise ValueError(f"{name} has the shape {shape}; musegen writes 1-D or 2-D arrays")
    declared = math.prod(shape) * dtype.itemsize
    if declared > member_bytes:
        raise ValueError(f"{name} declares {declared:,} bytes but its member holds {member_bytes:,}")
    data = fh.read(declared)
    if len(data) != declared:
        raise ValueError(f"{name} is truncated")
    return np.frombuffer(data, dtype=dtype).reshape(shape)


def _split(flat: np.ndarray, lengths: np.ndarray, vocab_size: int, width: int) -> list[np.ndarray]:
    """The stored sequences; ValueError when the arrays do not fit together or the vocabulary."""
    if lengths.ndim != 1 or (len(lengths) and int(lengths.min()) < 0):
        raise ValueError("the piece lengths are not a list of counts")
    if int(lengths.sum(dtype=np.int64)) != len(flat):
        raise ValueError("lengths do not add up to the stored ids")
    if flat.ndim == 1 and len(flat) and not (int(flat.min()) >= 0 and int(flat.max()) < vocab_size):
        raise ValueError(
            f"token ids run from {int(flat.min())} to {int(flat.max())}, outside the vocabulary of {vocab_size}"
        )
    if flat.ndim == 2 and (flat.shape[1] != width or (flat.size and not 0 <= int(flat.min()) <= int(flat.max()) <= 1)):
        raise ValueError(f"the frames have shape {flat.shape} or values outside 0-1; the model reads {width} keys")
    if flat.ndim != (2 if width != vocab_size else 1) and len(flat):
        raise ValueError(f"the stored ids have {flat.ndim} dimensions; this run's representation needs another shape")
    dtype = np.uint8 if flat.ndim == 2 else np.int32  # frames (uint8 now, int32 in older run folders), or ids
    return [a.astype(dtype) for a in np.split(flat, np.cumsum(lengths)[:-1])] if len(lengths) else []
