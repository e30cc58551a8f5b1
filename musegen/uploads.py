"""Files that arrive from a browser: size checks and a per-session folder on disk.

The app keeps uploaded bytes in memory to ingest them, and saves the accepted ones under
``<runs_dir>/.sessions/<session-id>/data/`` so a background training worker (another
process) can read them with ``--data``. File names are reduced to a safe base name and
prefixed with a content hash, so two uploads never overwrite each other and nothing is
written outside the session folder.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from pathlib import Path

from musegen.config import Limits
from musegen.errors import UploadError
from musegen.fileio import atomic_write_bytes
from musegen.ingest import FileResult

SESSIONS = ".sessions"  # hidden folder inside a runs dir: list_runs() skips it
_SESSION_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")
_MB = 1024 * 1024

__all__ = ["SESSIONS", "save_uploads", "screen_uploads", "session_folder", "valid_session_id"]


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


def save_uploads(sources: Iterable[tuple[str, bytes]], folder: str | Path) -> Path:
    """Write uploads into ``folder`` (created; atomic writes) and return it, ready for ``--data``.

    Each file is stored as ``<hash8>/<safe base name>``: the same bytes land on the same path
    (saving twice costs nothing), different files never collide, and piece names stay clean.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in sources:
        digest = hashlib.blake2b(data, digest_size=4).hexdigest()
        path = folder / digest / _safe_name(name)
        if not path.exists():
            path.parent.mkdir(exist_ok=True)
            atomic_write_bytes(path, data, durable=False)
    return folder


def _safe_name(name: str) -> str:
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = _UNSAFE.sub("_", base).strip(" .") or "upload"
    return base[-100:]
