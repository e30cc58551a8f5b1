"""MIDI files, folders and zip archives to note events, with a per-file report.

Files are parsed with pretty_midi (tens of milliseconds per file; music21 takes 10-30x
longer). Every file gets a result: ok, or skipped with a reason a person understands.
A batch never raises because of one file; :func:`read_midi_bytes` (a single file)
raises :class:`MidiReadError`. Results are cached by content hash, so ingesting an
unchanged dataset again costs almost nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from musegen.archive import MIDI_SUFFIXES, is_zip, read_zip
from musegen.config import DataConfig, Limits
from musegen.corpus import BUILTIN_NAME, load_builtin_corpus
from musegen.errors import DatasetError, MidiReadError, UploadError
from musegen.notes import Piece, make_notes

log = logging.getLogger(__name__)

CACHE_VERSION = "1"
PIANO_PROGRAMS = tuple(range(8))  # General MIDI 1-8: the pianos (the tutorial read only piano parts)
_MB = 1024 * 1024

Progress = Callable[[int, int, str], None]  # (done, total, current file name)

__all__ = [
    "BUILTIN_NAME",
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
    """What happened to one file: ok, or skipped with a human reason."""

    name: str
    ok: bool
    reason: str = ""
    n_notes: int = 0
    cached: bool = False


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

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": len(self.results),
            "ok": self.n_ok,
            "skipped": self.n_skipped,
            "notes": int(sum(p.n_notes for p in self.pieces)),
            "results": [asdict(r) for r in self.results],
        }

    def require_usable(self) -> None:
        """Raise DatasetError when no file could be used."""
        if not self.pieces:
            reasons = sorted({r.reason for r in self.results})[:5]
            detail = f" Reasons: {'; '.join(reasons)}." if reasons else ""
            raise DatasetError(
                f"No usable MIDI file among {len(self.results)} input(s).{detail} "
                "Bring .mid/.midi files with pitched (non-drum) notes."
            )


# --------------------------------------------------------------------------- one file


def read_midi_file(path: str | Path, cfg: DataConfig | None = None, limits: Limits | None = None) -> Piece:
    """Read one MIDI file; raise MidiReadError saying what is wrong with it."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise MidiReadError(f"{path.name}: cannot read the file ({exc.strerror or exc}).") from exc
    return read_midi_bytes(data, path.name, cfg, limits)


def read_midi_bytes(data: bytes, name: str, cfg: DataConfig | None = None, limits: Limits | None = None) -> Piece:
    """Parse MIDI bytes into a Piece, keeping the parts the instrument filter selects."""
    cfg = cfg or DataConfig()
    limits = limits or Limits.from_env()
    pm = parse_midi(data, name, limits)
    notes, tempo = _collect_notes(pm, name, cfg)
    if len(notes) > limits.max_notes_per_file:
        raise MidiReadError(f"{name}: {len(notes):,} notes, over the limit of {limits.max_notes_per_file:,} per file.")
    if notes[:, 1].max() > limits.max_beats_per_file:
        raise MidiReadError(f"{name}: lasts over {limits.max_beats_per_file:,} beats; the file is likely corrupt.")
    return Piece(Path(name).stem, notes, tempo)


def _check_header(data: bytes, name: str, limits: Limits) -> None:
    if not data:
        raise MidiReadError(f"{name}: empty file (0 bytes).")
    if len(data) > limits.max_file_mb * _MB:
        raise MidiReadError(f"{name}: {len(data) / _MB:.1f} MB, over the size limit of {limits.max_file_mb} MB.")
    if data[:4] != b"MThd":
        raise MidiReadError(f"{name}: not a MIDI file ({_sniff(data)}); a MIDI file starts with 'MThd'.")
    if len(data) < 14:
        raise MidiReadError(f"{name}: truncated MIDI header.")
    fmt = int.from_bytes(data[8:10], "big")
    division = int.from_bytes(data[12:14], "big")
    if fmt == 2:
        raise MidiReadError(f"{name}: type-2 MIDI (independent sequences) is not supported; save it as type 0 or 1.")
    if fmt > 2:
        raise MidiReadError(f"{name}: unknown MIDI format {fmt}; the file is likely corrupt.")
    if division == 0:
        raise MidiReadError(f"{name}: zero ticks per beat in the header; the file is corrupt.")
    if division & 0x8000:
        raise MidiReadError(f"{name}: SMPTE time division is not supported; save it with ticks per beat.")


def _sniff(data: bytes) -> str:
    head = data[:512].lstrip().lower()
    if is_zip(data):
        return "it is a zip archive"
    if head.startswith((b"<!doctype html", b"<html")) or b"<html" in head:
        return "it is an HTML page"
    if head.startswith((b"riff", b"id3", b"flac", b"oggs")):
        return "it is an audio file"
    try:
        data[:512].decode("utf-8")
        return "it is a text file"
    except UnicodeDecodeError:
        return "unrecognised binary data"


def parse_midi(data: bytes, name: str, limits: Limits | None = None) -> Any:
    """MIDI bytes to a ``pretty_midi.PrettyMIDI`` with every instrument; MidiReadError says what is wrong."""
    limits = limits or Limits.from_env()
    _check_header(data, name, limits)
    return _parse(data, name, limits.max_notes_per_file)


def _parse(data: bytes, name: str, max_notes: int) -> Any:
    import pretty_midi

    from musegen.smf import SMFError, TooManyNotes, read_smf

    try:
        midi = read_smf(data, max_notes=max_notes)  # stops early: a huge file costs no more than the limit
    except TooManyNotes as exc:
        raise MidiReadError(f"{name}: over the limit of {max_notes:,} notes per file.") from exc
    except SMFError as exc:
        raise MidiReadError(f"{name}: corrupt or truncated MIDI ({exc}).") from exc
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return pretty_midi.PrettyMIDI(mido_object=midi)
    except ValueError as exc:
        if "largest tick" in str(exc):
            raise MidiReadError(f"{name}: absurd tick values ({exc}); the file is corrupt.") from exc
        raise MidiReadError(f"{name}: corrupt MIDI ({exc}).") from exc
    except (IndexError, KeyError, ZeroDivisionError, OverflowError, MemoryError) as exc:
        raise MidiReadError(f"{name}: corrupt MIDI ({type(exc).__name__}: {exc}).") from exc


def _keep(inst: Any, cfg: DataConfig) -> bool:
    if inst.is_drum:
        return False
    if cfg.instrument_filter == "piano":
        return inst.program in PIANO_PROGRAMS
    if cfg.instrument_filter == "programs":
        return inst.program in set(cfg.programs)
    return True


def _collect_notes(pm: Any, name: str, cfg: DataConfig) -> tuple[np.ndarray, float]:
    pitched = [i for i in pm.instruments if i.notes and not i.is_drum]
    if not any(i.notes for i in pm.instruments):
        raise MidiReadError(f"{name}: no notes (the file holds only tempo, meta or controller events).")
    if not pitched:
        raise MidiReadError(f"{name}: drums only; musegen learns pitched parts.")
    kept = [i for i in pitched if _keep(i, cfg)]
    if not kept:
        wanted = "piano programs" if cfg.instrument_filter == "piano" else f"programs {list(cfg.programs)}"
        raise MidiReadError(f"{name}: no notes left after the instrument filter ({wanted}); try 'all' instruments.")
    raw = np.array([(n.start, n.end, n.pitch, n.velocity) for i in kept for n in i.notes], dtype=np.float64)
    times, tempi = pm.get_tempo_changes()
    raw[:, 0] = _seconds_to_beats(raw[:, 0], times, tempi)
    raw[:, 1] = np.maximum(_seconds_to_beats(raw[:, 1], times, tempi), raw[:, 0])
    tempo = float(tempi[0]) if len(tempi) else 120.0
    return make_notes(raw), tempo


def _seconds_to_beats(t: np.ndarray, times: np.ndarray, tempi: np.ndarray) -> np.ndarray:
    """Piecewise-linear time -> beats through the tempo map (exact for MIDI tempo maps)."""
    if not len(times):
        return t * 2.0  # 120 BPM
    times = np.asarray(times, dtype=np.float64)
    rates = np.asarray(tempi, dtype=np.float64) / 60.0  # beats per second
    beats_at = np.concatenate([[0.0], np.cumsum(np.diff(times) * rates[:-1])])
    j = np.clip(np.searchsorted(times, t, side="right") - 1, 0, len(times) - 1)
    return beats_at[j] + (t - times[j]) * rates[j]


# --------------------------------------------------------------------------- batches


def ingest_paths(
    paths: Sequence[str | Path],
    cfg: DataConfig | None = None,
    *,
    limits: Limits | None = None,
    on_progress: Progress | None = None,
    use_cache: bool = True,
) -> IngestReport:
    """Files, folders (searched recursively) and zips; the built-in corpus when ``paths`` is empty."""
    if not paths:
        pieces = load_builtin_corpus()
        return IngestReport([FileResult(p.name, True, n_notes=p.n_notes) for p in pieces], pieces)
    sources: list[tuple[str, bytes | str]] = []
    for raw in paths:
        sources.extend(_expand_path(Path(raw)))
    return ingest_sources(sources, cfg, limits=limits, on_progress=on_progress, use_cache=use_cache)


def _expand_path(path: Path) -> Iterator[tuple[str, bytes | str]]:
    """(name, bytes) per file, or (name, reason) when the path cannot be read."""
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in (*MIDI_SUFFIXES, ".zip"))
        if not files:
            yield str(path), "folder holds no .mid, .midi or .zip files"
        for f in files:
            if f.is_symlink():  # inside a folder, as inside a zip: a link may point anywhere
                yield str(f), "symbolic link (not followed)"
                continue
            yield from _expand_path(f)
        return
    try:
        yield path.name, path.read_bytes()
    except FileNotFoundError:
        yield str(path), "file not found"
    except OSError as exc:
        yield str(path), f"cannot read the file ({exc.strerror or exc})"


def ingest_sources(
    sources: Iterable[tuple[str, bytes | str]],
    cfg: DataConfig | None = None,
    *,
    limits: Limits | None = None,
    on_progress: Progress | None = None,
    use_cache: bool = True,
) -> IngestReport:
    """Ingest (name, bytes) pairs (uploads, files); zips are opened safely. A str payload is a read error."""
    cfg = cfg or DataConfig()
    limits = limits or Limits.from_env()
    items = list(_unzip_all(sources, limits))
    report = IngestReport()
    seen: dict[str, str] = {}
    for done, (name, payload) in enumerate(items, start=1):
        if on_progress:
            on_progress(done - 1, len(items), name)
        report.results.append(_ingest_one(name, payload, cfg, limits, seen, report, use_cache))
    if on_progress:
        on_progress(len(items), len(items), "")
    return report


def _unzip_all(sources: Iterable[tuple[str, bytes | str]], limits: Limits) -> Iterator[tuple[str, bytes | str]]:
    for name, payload in sources:
        if isinstance(payload, bytes) and is_zip(payload) and name.lower().endswith(".zip"):
            try:
                contents = read_zip(payload, name, limits)
            except UploadError as exc:
                yield name, str(exc)
                continue
            for member, reason in contents.skipped:
                yield f"{name}/{member}", reason
            for member, data in contents.members:
                yield f"{name}/{member}", data
        else:
            yield name, payload


def _ingest_one(
    name: str,
    payload: bytes | str,
    cfg: DataConfig,
    limits: Limits,
    seen: dict[str, str],
    report: IngestReport,
    use_cache: bool,
) -> FileResult:
    if isinstance(payload, str):
        return FileResult(name, False, payload)
    digest = hashlib.blake2b(payload, digest_size=16).hexdigest()
    if digest in seen:
        return FileResult(name, False, f"duplicate of {seen[digest]}")
    seen[digest] = name
    if len(report.pieces) >= limits.max_files:
        return FileResult(name, False, f"over the limit of {limits.max_files} files per dataset")
    key = _cache_key(digest, cfg, limits)
    cached = _cache_get(key) if use_cache else None
    if cached is not None:
        piece, reason = cached
        hit = True
    else:
        hit = False
        try:
            piece, reason = read_midi_bytes(payload, name, cfg, limits), ""
        except MidiReadError as exc:
            piece, reason = None, str(exc).removeprefix(f"{name}: ")
        if use_cache:
            _cache_put(key, piece, reason)
    if piece is None:
        return FileResult(name, False, reason, cached=hit)
    piece.name = _display_name(name)
    report.pieces.append(piece)
    return FileResult(name, True, n_notes=piece.n_notes, cached=hit)


def _display_name(name: str) -> str:
    base = name.rsplit("/", 1)[-1]
    for suffix in MIDI_SUFFIXES:
        if base.lower().endswith(suffix):
            return base[: -len(suffix)]
    return base


# --------------------------------------------------------------------------- content-hash cache


def cache_dir() -> Path:
    """``$MUSEGEN_CACHE_DIR`` or ``.cache/`` at the project root."""
    env = os.environ.get("MUSEGEN_CACHE_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[1] / ".cache"


def _cache_key(digest: str, cfg: DataConfig, limits: Limits) -> str:
    """Content hash + what decides the result: the instrument filter and the per-file limits."""
    programs = ",".join(str(p) for p in sorted(cfg.programs))
    bounds = f"{limits.max_file_mb},{limits.max_notes_per_file},{limits.max_beats_per_file}"
    tag = f"{CACHE_VERSION}|{cfg.instrument_filter}|{programs}|{bounds}"
    return f"{digest}-{hashlib.blake2b(tag.encode(), digest_size=4).hexdigest()}"


_MAGIC = b"MGC1"


def _cache_path(key: str) -> Path:
    return cache_dir() / "ingest" / f"{key}.bin"


def _cache_get(key: str) -> tuple[Piece | None, str] | None:
    """Read one entry: magic, a JSON header (tempo, reason, note count), raw float64 notes. No pickle."""
    path = _cache_path(key)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("cannot read the cache entry %s: %s", path, exc)
        return None
    try:
        if raw[:4] != _MAGIC:
            raise ValueError("bad magic")
        size = int.from_bytes(raw[4:8], "little")
        header = json.loads(raw[8 : 8 + size])
        notes = np.frombuffer(raw, dtype="<f8", offset=8 + size).reshape(-1, 4)
        if len(notes) != header["n"]:
            raise ValueError("truncated")
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring a damaged cache entry %s: %s", path, exc)
        return None
    if header["reason"]:
        return None, str(header["reason"])
    return Piece("", notes.copy(), float(header["tempo"])), ""


def _cache_put(key: str, piece: Piece | None, reason: str) -> None:
    notes = piece.notes if piece is not None else np.zeros((0, 4))
    header = json.dumps({"tempo": piece.tempo if piece else 0.0, "reason": reason, "n": len(notes)}).encode()
    blob = _MAGIC + len(header).to_bytes(4, "little") + header + notes.astype("<f8").tobytes()
    path = _cache_path(key)
    try:
        from musegen.fileio import atomic_write_bytes

        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, blob, durable=False)  # a lost cache entry is only re-parsed
    except OSError as exc:
        log.warning("cannot write the ingest cache in %s (%s); continuing without it", path.parent, exc)
