"""Run folders: create one (one run-id scheme), read one without loading its model (:class:`RunInfo`),
list and delete them, and clear what a killed writer left behind."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from musegen.config import RunConfig
from musegen.errors import ConfigError, MusegenError, RunNotFoundError, TrainingError
from musegen.fileio import atomic_write_json, atomic_write_text, make_dirs, storage_error
from musegen.records import History, Metrics
from musegen.representations.registry import check
from musegen.runs.history import read_history, read_metrics
from musegen.runs.layout import ACTIVE_STATES, CONFIG, LAST, MODEL, VOCAB, read_json
from musegen.runs.model import check_which, load_info_model
from musegen.runs.status import read_status, write_status
from musegen.vocabulary import Vocabulary

if TYPE_CHECKING:
    import keras

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
    check_which(which)
    return load_info_model(load_run(path), which)


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
