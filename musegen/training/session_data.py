"""The dataset a browser session trains on: uploads screened, read and saved where its trainings find them.

The Dataset page hands :func:`load_dataset` the files a person chose (none: the built-in
corpus). Uploads over the limits are rejected with a reason, the rest are read, and the files
that gave music are saved into the session's own folder (``runs/.sessions/<id>/data/<key>``),
which the background training worker reads. The files are read once per set of files and
instrument filter and sustain-pedal setting: changing the token or window settings only changes
``LoadedDataset.data``.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from musegen.config import DataConfig, Limits
from musegen.notes import Piece
from musegen.representations.registry import get
from musegen.sources.ingest import BUILTIN_NAME, FileResult, ingest_paths, ingest_sources
from musegen.sources.uploads import save_uploads, screen_uploads, session_folder, usable_uploads
from musegen.training.jobs import remove_idle_uploads

# the choices of the data options, for people
GRID_LABELS = {
    4: "sixteenth notes (4 per beat)",
    8: "32nd notes (8 per beat)",
    12: "sixteenths + triplets (12 per beat)",
}
FILTER_LABELS = {
    "all": "all pitched parts",
    "piano": "piano parts only (the tutorial)",
    "programs": "chosen GM programs",
}
DYNAMICS_LABELS = {"auto": "automatic (from the files)", "on": "learn dynamics", "off": "one loudness"}


def data_choice(
    *,
    representation: str,
    grid: int,
    instruments: str,
    programs: Sequence[int] = (),
    transpose: tuple[int, int] = (0, 0),
    window: int,
    dynamics: str = "auto",
    velocity_bins: int,
    pedal: bool,
) -> tuple[DataConfig, bool]:
    """The data settings of a person's choices (the Dataset page's widgets; :meth:`DataConfig.validate`
    checks them), and whether the dynamics are still to be decided from the files (``dynamics`` "auto",
    for a representation whose velocity is optional: :func:`musegen.datasets.expression.suggested` once
    they are read). Windows overlap by half."""
    optional = get(representation).dynamics == "optional"
    cfg = DataConfig(
        representation=representation,
        steps_per_beat=int(grid),
        instrument_filter=instruments,
        programs=tuple(int(p) for p in programs),
        transpose=(int(transpose[0]), int(transpose[1])),
        window=int(window),
        stride=max(1, int(window) // 2),
        velocity=optional and dynamics == "on",
        velocity_bins=int(velocity_bins),
        sustain_pedal=bool(pedal),
    )
    return cfg, optional and dynamics == "auto"


Progress = Callable[[int, int, str], None]  # (files done, files in all, the file being read)


@dataclass
class LoadedDataset:
    """The dataset of a session: what was read, how, and where its trainings find the files."""

    name: str  # for people: the built-in corpus' name, or the first uploads' names
    key: str  # identifies the files and the options that change what is read (see dataset_key)
    pieces: list[Piece]
    results: list[FileResult]  # one per file: ok, or skipped with the reason
    data: DataConfig
    data_paths: list[str] = field(default_factory=list)  # empty: the built-in corpus

    @property
    def builtin(self) -> bool:
        return not self.data_paths

    @property
    def n_notes(self) -> int:
        return sum(p.n_notes for p in self.pieces)

    @property
    def n_used(self) -> int:
        """Files that gave music."""
        return sum(r.ok for r in self.results)

    def file_rows(self) -> list[dict[str, Any]]:
        """One table row per file (file, status, notes, reason), the skipped files first."""
        ordered = sorted(self.results, key=lambda r: r.ok)  # stable: each group keeps its order
        return [
            {
                "file": r.name,
                "status": "ok" if r.ok else "skipped",
                "notes": r.n_notes if r.ok else None,
                "reason": r.reason,
            }
            for r in ordered
        ]

    def file_summary(self, escape: Callable[[str], str] = str, shown: int = 5) -> str:
        """How many files are used and why the first ``shown`` skipped ones were, as Markdown (``escape`` the names)."""
        bad = [r for r in self.results if not r.ok]
        if not bad:
            return f"All {len(self.results)} files are used."
        lines = "".join(f"\n- **{escape(r.name)}**: {escape(r.reason)}" for r in bad[:shown])
        more = f"\n- … and {len(bad) - shown} more (see the table)" if len(bad) > shown else ""
        return f"{self.n_used} of {len(self.results)} files are used; {len(bad)} skipped:{lines}{more}"


def dataset_key(files: Sequence[tuple[str, bytes]], cfg: DataConfig) -> str:
    """A key of the files (names and contents) and of the options that change what is read from them."""
    digest = hashlib.blake2b(digest_size=8)
    for name, data in files:
        digest.update(name.encode() + b"\0" + hashlib.blake2b(data, digest_size=16).digest())
    digest.update(f"{cfg.instrument_filter}|{cfg.programs}|pedal={cfg.sustain_pedal}".encode())
    return f"{'upload' if files else BUILTIN_NAME}-{digest.hexdigest()}"


def load_dataset(
    files: Sequence[tuple[str, bytes]],
    cfg: DataConfig,
    runs_dir: str | Path,
    session: str,
    *,
    limits: Limits | None = None,
    current: LoadedDataset | None = None,
    on_progress: Progress | None = None,
) -> LoadedDataset:
    """The dataset of ``files`` (name, bytes; none: the built-in corpus) read with ``cfg``.

    When ``current`` holds the same files read the same way, it comes back with ``cfg`` and
    nothing is read again. Uploads are saved under the session's folder in ``runs_dir`` (only
    those that gave music), and the uploads of sessions idle for a day are removed.
    """
    key = dataset_key(files, cfg)
    if current is not None and current.key == key:
        return dataclasses.replace(current, data=cfg)  # token settings changed only: no need to read again
    limits = limits or Limits.from_env()
    if not files:
        report = ingest_paths([], cfg, limits=limits, on_progress=on_progress)
        return LoadedDataset(BUILTIN_NAME, key, report.pieces, report.results, cfg, [])
    accepted, rejected = screen_uploads(files, limits)
    report = ingest_sources(accepted, cfg, limits=limits, on_progress=on_progress)
    usable = usable_uploads(accepted, report)  # rejected files never land on disk
    folder = save_uploads(usable, session_folder(runs_dir, session) / "data" / key)
    remove_idle_uploads(runs_dir, keep=[session])
    name = upload_name([n for n, _ in files])
    return LoadedDataset(name, key, report.pieces, rejected + report.results, cfg, [str(folder)])


def upload_name(names: Sequence[str]) -> str:
    """A dataset's name for people: "a.mid, b.mid and 3 more"."""
    more = f" and {len(names) - 2} more" if len(names) > 2 else ""
    return ", ".join(names[:2]) + more
