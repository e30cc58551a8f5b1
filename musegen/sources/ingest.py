"""MIDI files, folders and zip archives to note events, with a per-file report.

Files are parsed with pretty_midi (tens of milliseconds per file; music21 takes 10-30x
longer), each in a decoding worker process with memory and CPU limits
(:mod:`musegen.sources.sandbox`), so a hostile file costs its worker, never the app.
Every file gets a result: ok, or skipped with a reason a person understands. A batch
never raises because of one file; :func:`read_midi_bytes` (a single file) raises
:class:`MidiReadError`. Files and zip members are read one at a time, and results are
cached by content hash (:mod:`musegen.sources.cache`), so ingesting an unchanged dataset again costs almost nothing.
Every piece carries its file's tempo map; every usable file gets its grid fit (the share of its
onsets on the sixteenth grid), and the report says when the files look played rather than written.
"""

from __future__ import annotations

import hashlib
import stat
import statistics
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from musegen.config import DataConfig, Limits
from musegen.errors import DatasetError, MidiReadError, UploadError
from musegen.notes import UNQUANTIZED_BELOW, Piece, grid_fit, timing_advice
from musegen.sources import decode, files
from musegen.sources.archive import MIDI_SUFFIXES, ZipArchive, is_zip
from musegen.sources.cache import cache_get, cache_key, cache_put
from musegen.sources.corpus import BUILTIN_NAME, load_builtin_corpus
from musegen.sources.decode import PIANO_PROGRAMS
from musegen.sources.sandbox import Decoded, DecodePool, decode_in_worker

_MB = 1024 * 1024

Progress = Callable[[int, int, str], None]  # (done, total, current file name)

__all__ = [
    "BUILTIN_NAME",
    "PIANO_PROGRAMS",
    "FileResult",
    "IngestReport",
    "ingest_paths",
    "ingest_sources",
    "load_builtin_corpus",
    "parse_midi",
    "read_midi_bytes",
    "read_midi_file",
]


@dataclass
class FileResult:
    """What happened to one file: ok, or skipped with a human reason. ``grid_fit``: the share of its onsets
    on the sixteenth grid (:func:`musegen.notes.grid_fit`; near 1 written, well below 0.7 played), None
    when skipped."""

    name: str
    ok: bool
    reason: str = ""
    n_notes: int = 0
    cached: bool = False
    grid_fit: float | None = None


@dataclass
class IngestReport:
    results: list[FileResult] = field(default_factory=list)
    pieces: list[Piece] = field(default_factory=list)

    @property
    def n_ok(self) -> int:
        return sum(r.ok for r in self.results)

    @property
    def n_skipped(self) -> int:
        return len(self.results) - self.n_ok

    def skipped(self) -> list[FileResult]:
        return [r for r in self.results if not r.ok]

    @property
    def grid_fit(self) -> float | None:
        """The median of the usable files' grid fits (None when there is none)."""
        fits = [r.grid_fit for r in self.results if r.ok and r.grid_fit is not None]
        return float(statistics.median(fits)) if fits else None

    @property
    def looks_unquantized(self) -> bool:
        """Whether the files look played rather than written: a median grid fit below UNQUANTIZED_BELOW."""
        fit = self.grid_fit
        return fit is not None and fit < UNQUANTIZED_BELOW

    def timing_advice(self) -> str:
        """One line recommending the performance representation when the files look played, else ''."""
        return timing_advice(self.grid_fit) if self.looks_unquantized else ""

    def to_dict(self) -> dict[str, Any]:
        fit = self.grid_fit
        return {
            "files": len(self.results),
            "ok": self.n_ok,
            "skipped": self.n_skipped,
            "notes": int(sum(p.n_notes for p in self.pieces)),
            "grid_fit": None if fit is None else round(fit, 4),
            "looks_unquantized": self.looks_unquantized,
            "timing_advice": self.timing_advice(),
            "results": [asdict(r) for r in self.results],
        }

    def unusable_error(self) -> DatasetError | None:
        """The DatasetError :meth:`require_usable` raises, or None when a file could be used."""
        if self.pieces:
            return None
        reasons = sorted({r.reason for r in self.results})[:5]
        detail = f" Reasons: {'; '.join(reasons)}." if reasons else ""
        return DatasetError(
            f"No usable MIDI file among {len(self.results)} input(s).{detail} "
            "Bring .mid/.midi files with pitched (non-drum) notes."
        )

    def require_usable(self) -> None:
        """Raise DatasetError when no file could be used."""
        error = self.unusable_error()
        if error:
            raise error


# --------------------------------------------------------------------------- one file


def read_midi_file(path: str | Path, cfg: DataConfig | None = None, limits: Limits | None = None) -> Piece:
    """Read one MIDI file (a regular file within the size limit); raise MidiReadError saying what is wrong."""
    path = Path(path)
    limits = limits or Limits.from_env()
    try:
        data = files.read_limited(path, limits.max_file_mb)
    except MidiReadError as exc:
        raise MidiReadError(f"{path.name}: {exc}") from None
    return read_midi_bytes(data, path.name, cfg, limits)


def read_midi_bytes(data: bytes, name: str, cfg: DataConfig | None = None, limits: Limits | None = None) -> Piece:
    """Parse MIDI bytes into a Piece, keeping the parts the instrument filter selects (in a decoding worker)."""
    cfg = cfg or DataConfig()
    limits = limits or Limits.from_env()
    try:
        decode.check_header(data, limits)  # the cheap refusals need no worker
    except MidiReadError as exc:
        raise MidiReadError(f"{name}: {exc}") from None
    result = decode_in_worker(data, cfg, limits)
    if result.notes is None:
        raise MidiReadError(f"{name}: {result.reason}")
    return Piece(Path(name).stem, result.notes, result.tempo, result.tempo_map)


def parse_midi(data: bytes, name: str, limits: Limits | None = None) -> Any:
    """MIDI bytes to a ``pretty_midi.PrettyMIDI`` with every instrument; MidiReadError says what is wrong.

    Decoded in this process (a PrettyMIDI does not cross a pipe without pickle), for the commands
    that need the whole file; the event, note, beat and size limits bound what it may cost.
    """
    try:
        return decode.parse_midi(data, limits or Limits.from_env())
    except MidiReadError as exc:
        raise MidiReadError(f"{name}: {exc}") from exc


# --------------------------------------------------------------------------- batches


def ingest_paths(
    paths: Sequence[str | Path],
    cfg: DataConfig | None = None,
    *,
    limits: Limits | None = None,
    on_progress: Progress | None = None,
    use_cache: bool = True,
) -> IngestReport:
    """Files, folders (searched to a depth limit) and zips; the built-in corpus when ``paths`` is empty.

    Only regular files are read (a device, a FIFO or a socket gets a reason), each when its turn comes.
    """
    if not paths:
        pieces = load_builtin_corpus()
        results = [FileResult(p.name, True, n_notes=p.n_notes, grid_fit=_fit(p)) for p in pieces]
        return IngestReport(results, pieces)
    limits = limits or Limits.from_env()
    sources: list[tuple[str, bytes | str | Path]] = []
    for raw in paths:
        sources.extend(_expand_path(Path(raw), limits))
    return ingest_sources(sources, cfg, limits=limits, on_progress=on_progress, use_cache=use_cache)


def _expand_path(path: Path, limits: Limits) -> Iterator[tuple[str, str | Path]]:
    """(name, path to read later) per file, or (name, reason) when the path cannot be read."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        yield str(path), "file not found"
        return
    except OSError as exc:
        yield str(path), f"cannot read the file ({exc.strerror or exc})"
        return
    if stat.S_ISREG(mode):
        yield path.name, path
        return
    if not stat.S_ISDIR(mode):
        yield str(path), files.not_regular_reason(mode)
        return
    found = 0
    for file, reason in files.walk(path, (*MIDI_SUFFIXES, ".zip"), limits.max_folder_depth):
        found += 1
        yield (str(file), reason) if reason else (file.name, file)
    if not found:
        yield str(path), "folder holds no .mid, .midi or .zip files"


def ingest_sources(
    sources: Iterable[tuple[str, bytes | str | Path]],
    cfg: DataConfig | None = None,
    *,
    limits: Limits | None = None,
    on_progress: Progress | None = None,
    use_cache: bool = True,
) -> IngestReport:
    """Ingest (name, bytes) pairs (uploads, files); zips are opened safely. A str payload is a read error,
    a Path one a regular file read when its turn comes."""
    cfg = cfg or DataConfig()
    limits = limits or Limits.from_env()
    batch = _Batch(cfg, limits, use_cache, on_progress)
    sources = list(sources)
    batch.total = len(sources)
    with DecodePool(cfg, limits) as pool:
        for item, decoded in pool.map(batch.prepare(_unzip_all(sources, limits, batch))):
            batch.finish(item, decoded)
    if on_progress:
        on_progress(len(batch.report.results), len(batch.report.results), "")
    return batch.report


@dataclass
class _Item:
    """One file of a batch on its way through: a result already known, or bytes for a worker."""

    name: str
    archive: int | None = None  # which zip it came from (to withdraw it when the zip is refused)
    result: FileResult | None = None
    key: str = ""
    piece: Piece | None = None
    refused: str = ""  # a zip refused as a whole: this row withdraws its members


class _Batch:
    """The state of one ingest: the report, the duplicates seen, the progress count."""

    def __init__(self, cfg: DataConfig, limits: Limits, use_cache: bool, on_progress: Progress | None) -> None:
        self.cfg, self.limits, self.use_cache, self.on_progress = cfg, limits, use_cache, on_progress
        self.report = IngestReport()
        self.total = 0
        self._seen: dict[str, str] = {}
        self._members: dict[int, list[tuple[FileResult, Piece | None]]] = {}

    def prepare(self, items: Iterator[tuple[_Item, bytes | str]]) -> Iterator[tuple[_Item, bytes | None]]:
        """(item, bytes) for each file a worker must decode, (item, None) when its result is known."""
        for item, payload in items:
            if item.refused or isinstance(payload, str):
                item.result = FileResult(item.name, False, item.refused or payload)
                yield item, None
                continue
            digest = hashlib.blake2b(payload, digest_size=16).hexdigest()
            if digest in self._seen:
                item.result = FileResult(item.name, False, f"duplicate of {self._seen[digest]}")
                yield item, None
                continue
            self._seen[digest] = item.name
            if len(self.report.pieces) >= self.limits.max_files:
                item.result = self._over_files(item.name)
                yield item, None
                continue
            item.key = cache_key(digest, self.cfg, self.limits)
            cached = cache_get(item.key) if self.use_cache else None
            if cached is not None:
                item.piece, reason = cached
                item.result = FileResult(item.name, item.piece is not None, reason, cached=True)
                yield item, None
                continue
            try:
                decode.check_header(payload, self.limits)  # the cheap refusals need no worker
            except MidiReadError as exc:
                self._decoded(item, Decoded(None, reason=str(exc)))
                yield item, None
                continue
            yield item, payload

    def finish(self, item: _Item, decoded: Decoded | None) -> None:
        """Record one item's result, in input order."""
        if self.on_progress:
            self.on_progress(len(self.report.results), max(self.total, len(self.report.results) + 1), item.name)
        if decoded is not None:
            self._decoded(item, decoded)
        if item.refused:
            self._withdraw(item)
        result = item.result
        if result.ok and len(self.report.pieces) >= self.limits.max_files:
            result, item.piece = self._over_files(item.name), None
        if result.ok:
            item.piece.name = _display_name(item.name)
            self.report.pieces.append(item.piece)
            result.n_notes, result.grid_fit = item.piece.n_notes, _fit(item.piece)
        if item.archive is not None:
            self._members.setdefault(item.archive, []).append((result, item.piece))
        self.report.results.append(result)

    def _decoded(self, item: _Item, decoded: Decoded) -> None:
        item.piece = None if decoded.notes is None else Piece("", decoded.notes, decoded.tempo, decoded.tempo_map)
        item.result = FileResult(item.name, item.piece is not None, decoded.reason)
        if self.use_cache and decoded.final:
            cache_put(item.key, item.piece, decoded.reason)

    def _withdraw(self, item: _Item) -> None:
        """A zip refused part-way (its unpacked size): the members already taken from it are not used."""
        for result, piece in self._members.pop(item.archive, []):
            if result.ok:
                result.ok, result.reason, result.n_notes = False, f"not used: {item.refused}", 0
                result.grid_fit = None
                self.report.pieces = [p for p in self.report.pieces if p is not piece]

    def _over_files(self, name: str) -> FileResult:
        return FileResult(name, False, f"over the limit of {self.limits.max_files} files per dataset")


def _unzip_all(
    sources: Iterable[tuple[str, bytes | str | Path]], limits: Limits, batch: _Batch
) -> Iterator[tuple[_Item, bytes | str]]:
    """Every file of the sources, zips opened one member at a time: (item, bytes or a reason)."""
    for number, (name, payload) in enumerate(sources):
        if isinstance(payload, Path):
            payload = _read_source(name, payload, limits)
            if not isinstance(payload, bytes | str):  # a zip on disk, open
                yield from _zip_members(name, payload, limits, batch, number)
                continue
        if isinstance(payload, bytes) and is_zip(payload) and name.lower().endswith(".zip"):
            yield from _zip_members(name, payload, limits, batch, number)
        else:
            yield _Item(name), payload


def _read_source(name: str, path: Path, limits: Limits) -> bytes | str | BinaryIO:
    """A file's bytes (a zip: its open file, to read member by member), or the reason it is not read."""
    try:
        if name.lower().endswith(".zip"):
            fh = files.open_regular(path)
            head = fh.read(4)
            size = fh.seek(0, 2)
            if is_zip(head) and size <= limits.max_upload_mb * _MB:
                fh.seek(0)
                return fh
            fh.close()
            if size > limits.max_upload_mb * _MB:
                return f"{size / _MB:.0f} MB, over the upload limit of {limits.max_upload_mb} MB"
        return files.read_limited(path, limits.max_file_mb)
    except MidiReadError as exc:
        return str(exc)
    except OSError as exc:
        return f"cannot read the file ({exc.strerror or exc})"


def _zip_members(
    name: str, source: bytes | BinaryIO, limits: Limits, batch: _Batch, number: int
) -> Iterator[tuple[_Item, bytes | str]]:
    try:
        archive = ZipArchive(source, name, limits)
        if not archive.infos:
            yield _Item(name), "empty zip archive (no files inside)"
            return
        batch.total += len(archive.infos) - 1
        for member, payload in archive.members():
            yield _Item(f"{name}/{member}", archive=number), payload
    except UploadError as exc:
        yield _Item(name, archive=number, refused=str(exc)), str(exc)
    finally:
        if not isinstance(source, bytes):
            source.close()


def _fit(piece: Piece) -> float:
    return round(grid_fit(piece.notes), 4)


def _display_name(name: str) -> str:
    base = name.rsplit("/", 1)[-1]
    for suffix in MIDI_SUFFIXES:
        if base.lower().endswith(suffix):
            return base[: -len(suffix)]
    return base
