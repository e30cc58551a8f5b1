"""The run directory: one folder per training under ``runs/<run-id>/``.

::

    config.json    every setting needed to rebuild the model and the tokens
    vocab.json     the vocabulary
    data.npz       the token ids of the train/validation split (resume and evaluation use it)
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

import io
import json
import os
import re
import secrets
import shutil
import socket
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from musegen.config import RunConfig
from musegen.errors import ConfigError, ModelLoadError, MusegenError, RunNotFoundError, TrainingError
from musegen.fileio import atomic_write_bytes, atomic_write_json, atomic_write_text, make_dirs, storage_error
from musegen.modelfile import check_model_file

if TYPE_CHECKING:
    import keras

    from musegen.tokens import Vocabulary

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
    "piece_names",
    "read_history",
    "read_metrics",
    "read_status",
    "remove_temporary_files",
    "request_stop",
    "save_dataset",
    "stop_requested",
    "write_status",
    "written_by_me",
]

CONFIG, VOCAB, DATA, HISTORY = "config.json", "vocab.json", "data.npz", "history.json"
PIECES = "pieces.json"  # names of the stored pieces, for seed pickers
MODEL, LAST, STATUS, METRICS, STOP = "model.keras", "last.keras", "status.json", "metrics.json", "stop"
STATES = ("queued", "running", "stopped", "finished", "failed")
ACTIVE_STATES = ("queued", "running")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


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
    history: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] | None = None

    @property
    def has_model(self) -> bool:
        return (self.path / MODEL).is_file()

    @property
    def can_resume(self) -> bool:
        return (self.path / LAST).is_file() and self.status not in ACTIVE_STATES

    @property
    def epochs_done(self) -> int:
        epochs = self.history.get("epochs", [])
        return int(epochs[-1]["epoch"]) if epochs else 0

    @property
    def best_val_loss(self) -> float | None:
        value = self.history.get("best_value")
        return None if value is None else float(value)

    def vocab(self) -> Vocabulary:
        from musegen.tokens import Vocabulary

        return Vocabulary.load(self.path / VOCAB)

    def load_model(self, which: str = "best") -> keras.Model:
        return load_run_model(self.path, which)


@dataclass
class StoredDataset:
    """The token split saved with a run: what ``training.train`` and evaluation need of a TokenDataset."""

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
    config.validate()
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
        path = _fresh_dir(runs_dir, config.model.arch)
    atomic_write_text(path / CONFIG, config.to_json())
    atomic_write_json(path / VOCAB, vocab.to_dict())
    write_status(path, "queued")
    return path


def _fresh_dir(runs_dir: Path, arch: str) -> Path:
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
    if not (path / CONFIG).is_file():
        raise RunNotFoundError(f"{path} is not a musegen run (no {CONFIG}); train a model to create one.")
    config = RunConfig.load(path / CONFIG)
    status = read_status(path)
    return RunInfo(
        path=path,
        run_id=path.name,
        config=config,
        status=status["state"],
        message=status.get("message", ""),
        updated=float(status.get("updated", 0.0)),
        pid=status.get("pid"),
        history=read_history(path),
        metrics=read_metrics(path),
    )


def list_runs(runs_dir: str | Path) -> list[RunInfo]:
    """Every run under ``runs_dir``, newest first. Unreadable folders come back as status ``broken``."""
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        return []
    runs = []
    for path in runs_dir.iterdir():
        if not (path / CONFIG).is_file() or path.name.startswith("."):
            continue  # not a run (a stray file or folder): nothing to report
        try:
            runs.append(load_run(path))
        except MusegenError as exc:
            runs.append(RunInfo(path=path, run_id=path.name, config=None, status="broken", message=str(exc)))
    return sorted(runs, key=lambda r: (r.updated, r.run_id), reverse=True)


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
    if vocab.representation == "pianoroll":
        return  # frames: the model's width is the keyboard, not a vocabulary
    width = model.outputs[0].shape[-1]
    if width is not None and int(width) != len(vocab):
        raise ModelLoadError(
            f"{file} predicts {int(width)} tokens but run {info.run_id}'s vocabulary has {len(vocab)}: the model "
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
    status = _read_json(Path(path) / STATUS, default={"state": "queued", "message": ""})
    if status.get("state") not in STATES:
        raise RunNotFoundError(f"{Path(path) / STATUS} has an unknown state {status.get('state')!r}.")
    if status["state"] == "running" and not _alive(status):
        status = {
            **status,
            "state": "failed",
            "message": f"the training process (pid {status.get('pid')}) ended without finishing; "
            "resume the run to continue from its last checkpoint.",
        }
    return status


def written_by_me(status: dict[str, Any]) -> bool:
    """Whether this process wrote ``status`` (a job worker may mark a run running before training it)."""
    return status.get("pid") == os.getpid() and status.get("host") in (None, socket.gethostname())


def _alive(status: dict[str, Any]) -> bool:
    """Whether the process that wrote ``status`` still runs (always true for another host's process)."""
    pid = status.get("pid")
    if not isinstance(pid, int) or status.get("host") not in (None, socket.gethostname()):
        return True
    return pid_alive(pid)


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


def read_history(path: str | Path) -> dict[str, Any]:
    return _read_json(Path(path) / HISTORY, default={})


def read_metrics(path: str | Path) -> dict[str, Any] | None:
    return _read_json(Path(path) / METRICS, default=None)


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


def _read_json(file: Path, default: Any) -> Any:
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return default
    except (OSError, json.JSONDecodeError) as exc:
        raise RunNotFoundError(f"{file} is unreadable ({exc}); the run folder is damaged.") from exc


# ---------------------------------------------------------------- model and data files


def atomic_save_model(model: keras.Model, path: str | Path) -> None:
    """Save a Keras model (with optimizer state) to a temporary ``.keras`` file, then rename it."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp.keras")
    except OSError as exc:
        raise storage_error(exc, path) from exc
    os.close(fd)
    try:
        model.save(tmp)
        os.replace(tmp, path)
    except OSError as exc:  # disk full, read-only: the older checkpoint of that name stays intact
        Path(tmp).unlink(missing_ok=True)
        raise storage_error(exc, path) from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
) -> None:
    """Store the token ids of the split as ``data.npz`` (flat ids + lengths, no pickle), and the
    pieces' names, when given as (train names, validation names), as ``pieces.json``."""
    arrays: dict[str, np.ndarray] = {}
    for split, seqs in (("train", train), ("val", val)):
        lengths = np.array([len(s) for s in seqs], dtype=np.int64)
        flat = np.concatenate([np.asarray(s, dtype=np.int32) for s in seqs]) if seqs else np.zeros(0, np.int32)
        arrays[f"{split}_ids"], arrays[f"{split}_lengths"] = flat, lengths
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    atomic_write_bytes(Path(path) / DATA, buf.getvalue())
    if names is not None:
        atomic_write_json(Path(path) / PIECES, {"train": list(names[0]), "val": list(names[1])})


def piece_names(path: str | Path) -> dict[str, list[str]]:
    """{"train": [...], "val": [...]}: the names of a run's stored pieces, or {} when it has none."""
    try:
        names = json.loads((Path(path) / PIECES).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    return names if isinstance(names, dict) else {}


def load_dataset(path: str | Path) -> StoredDataset:
    """The vocabulary and train/validation token ids stored with a run."""
    from musegen.tokens import Vocabulary

    path = Path(path)
    file = path / DATA
    if not file.is_file():
        raise RunNotFoundError(f"run {path.name} has no {DATA} (its training never started); train it again.")
    try:
        with np.load(file, allow_pickle=False) as npz:
            splits = {s: _split(npz[f"{s}_ids"], npz[f"{s}_lengths"]) for s in ("train", "val")}
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise RunNotFoundError(f"{file} is damaged ({exc}); train the run again.") from exc
    return StoredDataset(vocab=Vocabulary.load(path / VOCAB), train=splits["train"], val=splits["val"])


def _split(flat: np.ndarray, lengths: np.ndarray) -> list[np.ndarray]:
    if int(lengths.sum()) != len(flat):
        raise ValueError("lengths do not add up to the stored ids")
    return [a.astype(np.int32) for a in np.split(flat, np.cumsum(lengths)[:-1])] if len(lengths) else []
