"""Files that arrive from a browser: size checks and a per-session folder on disk.

The app keeps uploaded bytes in memory to ingest them, and saves the accepted ones under
``<runs_dir>/.sessions/<session-id>/data/`` so a background training worker (another
process) can read them with ``--data``. File names are reduced to a safe base name and
prefixed with a content hash, so two uploads never overwrite each other and nothing is
written outside the session folder. A store that fails half-way (the disk full) takes back what it
had written: no upload is ever kept in part.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import re
import shutil
import time
from collections.abc import Iterable
from pathlib import Path

from musegen.config import Limits
from musegen.errors import StorageError, UploadError
from musegen.fileio import atomic_write_bytes, disk_full_cause, make_dirs
from musegen.sources.ingest import FileResult, IngestReport

log = logging.getLogger(__name__)

SESSIONS = ".sessions"  # hidden folder inside a runs dir: list_runs() skips it
SESSION_MAX_AGE_H = 24.0  # uploads of a session untouched this long are removed (MUSEGEN_SESSION_MAX_AGE_H)
_SESSION_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
_UNSAFE = re.compile(r"[^\w. -]+")  # letters of any script, digits, _ . space -
_MB = 1024 * 1024

__all__ = [
    "SESSIONS",
    "remove_old_sessions",
    "save_uploads",
    "screen_uploads",
    "session_folder",
    "usable_uploads",
    "valid_session_id",
]


def valid_session_id(session_id: str) -> bool:
    """True for ids made of 8-64 letters, digits, '-' or '_' (safe as a folder name)."""
    return bool(_SESSION_RE.match(session_id or ""))


def session_folder(runs_dir: str | Path, session_id: str) -> Path:
    """The private folder of one browser session inside ``runs_dir`` (not created)."""
    if not valid_session_id(session_id):
        raise UploadError(f"session id {session_id!r} is not valid; reload the page to get a new one.")
    return Path(runs_dir) / SESSIONS / session_id


def screen_uploads(
    sources: Iterable[tuple[str, bytes]], limits: Limits | None = None
) -> tuple[list[tuple[str, bytes]], list[FileResult]]:
    """Split uploads into accepted ones and per-file rejections (too big, too many files).

    The ingest itself checks every MIDI file and zip member; this is the outer gate that
    matches the app's ``server.maxUploadSize`` (``Limits.max_upload_mb``).
    """
    limits = limits or Limits.from_env()
    accepted: list[tuple[str, bytes]] = []
    rejected: list[FileResult] = []
    for name, data in sources:
        if len(data) > limits.max_upload_mb * _MB:
            size = len(data) / _MB
            rejected.append(
                FileResult(name, False, f"{size:.0f} MB, over the upload limit of {limits.max_upload_mb} MB")
            )
        elif len(accepted) >= limits.max_files:
            rejected.append(FileResult(name, False, f"over the limit of {limits.max_files} files per upload"))
        else:
            accepted.append((name, data))
    return accepted, rejected


def usable_uploads(sources: Iterable[tuple[str, bytes]], report: IngestReport) -> list[tuple[str, bytes]]:
    """The uploads that gave at least one usable piece in ``report`` (a zip counts by its members).

    Only these are saved for the training worker: a rejected file never lands on disk.
    """
    ok = {r.name for r in report.results if r.ok}
    return [(n, d) for n, d in sources if n in ok or any(o.startswith(n + "/") for o in ok)]


def save_uploads(sources: Iterable[tuple[str, bytes]], folder: str | Path) -> Path:
    """Write uploads into ``folder`` (created; atomic writes) and return it, ready for ``--data``.

    Each file is stored as ``<hash8>/<safe base name>``: the same bytes land on the same path
    (saving twice costs nothing), different files never collide, and piece names stay clean.
    When a write fails, the files and folders this call made are removed again and StorageError
    says why (on a full disk: "The disk is full: the uploaded files could not be stored ...").
    """
    folder = Path(folder)
    made: list[Path] = []  # what this call created, parents before children
    try:
        _make_dirs(folder, made)
        for name, data in sources:
            digest = hashlib.blake2b(data, digest_size=4).hexdigest()
            path = folder / digest / _safe_name(name)
            if not path.exists():
                _make_dirs(path.parent, made)
                atomic_write_bytes(path, data, durable=False)
                made.append(path)
    except StorageError as exc:
        _take_back(made)
        cause = disk_full_cause(exc)
        if not cause:
            raise
        error = StorageError(
            f"{cause}: the uploaded files could not be stored in {folder}; none of them was kept. "
            "Free some space and upload them again."
        )
        error.errno, error.path = exc.errno, exc.path
        raise error from exc
    return folder


def _make_dirs(folder: Path, made: list[Path]) -> None:
    """``make_dirs(folder)``, adding the folders it creates to ``made``."""
    missing = []
    for path in (folder, *folder.parents):
        if path.exists():
            break
        missing.append(path)
    made.extend(reversed(missing))  # before: a make_dirs that fails half-way is taken back too
    make_dirs(folder)


def _take_back(made: list[Path]) -> None:
    """Remove what a failed store created, the files first, then their folders (only when empty)."""
    for path in reversed(made):
        try:
            if path.is_dir() and not path.is_symlink():
                path.rmdir()
            else:
                path.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("could not remove %s after a failed upload: %s", path, exc)


def session_max_age_h() -> float:
    """``MUSEGEN_SESSION_MAX_AGE_H`` when it is a positive number of hours (any size), else the default."""
    raw = os.environ.get("MUSEGEN_SESSION_MAX_AGE_H", "").strip()
    try:
        value = float(raw) if len(raw) <= 40 else math.inf
    except ValueError:
        value = math.nan
    if raw and not value > 0:
        log.warning("MUSEGEN_SESSION_MAX_AGE_H must be a positive number of hours, got %r; using 24.", raw[:40])
    return value if value > 0 else SESSION_MAX_AGE_H


def remove_old_sessions(
    runs_dir: str | Path,
    max_age_h: float | None = None,
    *,
    keep: Iterable[str] = (),
    in_use: Iterable[Path] = (),
    now: float | None = None,
) -> list[Path]:
    """Delete the upload folders of sessions untouched for ``max_age_h`` hours; return what went.

    A session's folder counts as touched when anything inside it changed. Sessions in ``keep``
    (the caller's own) and folders holding a path of ``in_use`` (the data of queued or running
    trainings: :func:`musegen.training.jobs.remove_idle_uploads` passes them) are never removed.
    Trained runs live elsewhere and are not affected. Errors are logged, not raised: cleaning
    up must never break the page that asked for it.
    """
    if max_age_h is None:
        max_age_h = session_max_age_h()
    root = Path(runs_dir) / SESSIONS
    if not root.is_dir():
        return []
    cutoff = (time.time() if now is None else now) - max_age_h * 3600
    keep = set(keep)
    in_use = [Path(p).resolve() for p in in_use]
    removed = []
    for folder in root.iterdir():
        if not folder.is_dir() or folder.is_symlink() or folder.name in keep or not valid_session_id(folder.name):
            continue
        real = folder.resolve()
        if any(p == real or real in p.parents for p in in_use):
            continue
        try:
            if _newest_mtime(folder) < cutoff:
                shutil.rmtree(folder)
                removed.append(folder)
        except OSError as exc:
            log.warning("could not remove the old session folder %s: %s", folder, exc)
    return removed


def _newest_mtime(folder: Path) -> float:
    newest = folder.stat().st_mtime
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            newest = max(newest, os.lstat(os.path.join(dirpath, name)).st_mtime)
    return newest


def _safe_name(name: str) -> str:
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = _UNSAFE.sub("_", base).strip(" .") or "upload"
    return base[-100:]
