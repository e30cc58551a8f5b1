"""Hardening: every kind of bad MIDI file and hostile upload, in the library, the CLI and the page.

One table of cases drives the three levels, so each case gives the same reason everywhere:
``read_midi_bytes`` raises it, ``python -m musegen ingest`` prints it (a real subprocess),
and the Dataset page shows it in its table while the good files beside it are used. Nothing
else is damaged: the other files load, the session goes on, and nothing rejected is written.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from musegen.config import DataConfig, Limits
from musegen.errors import MidiReadError, UploadError
from musegen.sources.archive import read_zip
from musegen.sources.decode import parse_midi
from musegen.sources.ingest import ingest_paths, ingest_sources, read_midi_bytes
from musegen.sources.smf import TooManyNotes
from musegen.sources.uploads import usable_uploads
from tests import app_helpers as ui
from tests.cli_runner import Completed, run_musegen
from tests.hardening.hostile import (
    bzip2_bomb_zip,
    empty_zip,
    encrypted_zip,
    flood_midi,
    four_byte_vlq_midi,
    long_delta_midi,
    long_meta_length_midi,
    long_piece_midi,
)
from tests.midi_factory import (
    absurd_tick_midi,
    many_notes_midi,
    midi_bytes,
    no_notes_midi,
    piece_midi,
    raw_midi,
    scale_midi,
    simultaneous_notes_midi,
    tempo_map_only_midi,
    tempo_midi,
    time_signature_every_bar_midi,
    type2_midi,
    zip_bytes,
)

ROOT = Path(__file__).resolve().parents[2]
GOOD = scale_midi()
ONE_NOTE = b"\x00\x90\x3c\x40\x83\x60\x80\x3c\x00\x00\xff\x2f\x00"  # one quarter note, end of track


def _bad_midi() -> dict[str, tuple[bytes, str]]:
    """File name -> (bytes, words the reason must contain). Every one is refused, none crashes."""
    return {
        "empty.mid": (b"", "empty file"),
        "random.mid": (np.random.default_rng(0).bytes(4096), "not a MIDI file"),
        "truncated.mid": (GOOD[: len(GOOD) // 2], "truncated"),
        "data-byte-200.mid": (GOOD.replace(b"\x90\x3c\x5a", b"\x90\x3c\xc8", 1), "data byte 200 above 127"),
        "type2.mid": (type2_midi(), "type-2"),
        "zero-ticks.mid": (GOOD[:12] + b"\x00\x00" + GOOD[14:], "zero ticks per beat"),
        "smpte.mid": (GOOD[:12] + b"\xe7\x28" + GOOD[14:], "SMPTE"),
        "absurd-ticks.mid": (absurd_tick_midi(), "absurd tick"),
        "million-notes.mid": (many_notes_midi(1_000_000), "over the limit of 200,000 notes"),
        "drums.mid": (midi_bytes([(0, 0.5, 36), (0.5, 1, 38)], is_drum=True), "drums only"),
        "no-notes.mid": (no_notes_midi(), "no notes"),
        "tempo-map-only.mid": (tempo_map_only_midi(), "no notes"),
        "page.mid": (b"<!DOCTYPE html>\n<html><body>Not found</body></html>", "HTML page"),
        "archive.mid": (zip_bytes({"a.mid": GOOD}), "zip archive"),
        "zero-tempo.mid": (raw_midi(b"\x00\xff\x51\x03\x00\x00\x00" + ONE_NOTE), "tempo of 0"),
        # the second round (issue 17)
        "five-byte-delta.mid": (long_delta_midi(4), "variable-length number longer than 4 bytes"),
        "five-byte-meta-length.mid": (long_meta_length_midi(), "variable-length number longer than 4 bytes"),
        "note-off-flood.mid": (flood_midi("note-offs", mb=3.2), "over the limit of 1,000,000 events per file"),
        "fewer-tracks-than-declared.mid": (_declares(2, ONE_NOTE), "the header declares 2 tracks"),
        "over-100000-beats.mid": (long_piece_midi(100_001, division=96), "lasts over 100,000 beats"),
    }


def _declares(tracks: int, body: bytes) -> bytes:
    data = raw_midi(body, fmt=1)
    return data[:10] + tracks.to_bytes(2, "big") + data[12:]


def _odd_but_fine() -> dict[str, tuple[bytes, int, float]]:
    """File name -> (bytes, notes, beats of the last note-off): strange files that are still music."""
    return {
        "simultaneous-10000.mid": (simultaneous_notes_midi(10_000), 10_000, 1.0),
        "tempo-60-million-bpm.mid": (tempo_midi(1), 2, 2.0),
        "tempo-3.6-bpm.mid": (tempo_midi(0xFFFFFF), 2, 2.0),
        "time-signature-every-bar.mid": (time_signature_every_bar_midi(64), 64, 64.0),
        "time-signature-0-4.mid": (raw_midi(b"\x00\xff\x58\x04\x00\x02\x18\x08" + ONE_NOTE), 1, 1.0),
        # the second round (issue 17): one rule for trailing bytes, 4-byte numbers, the documented beat limit
        "trailing-junk-3.mid": (GOOD + b"abc", 8, 4.0),
        "trailing-junk-100.mid": (GOOD + bytes(range(100)), 8, 4.0),
        "four-byte-numbers.mid": (four_byte_vlq_midi(), 1, 1.0),
        "100-minutes.mid": (long_piece_midi(12_000, division=960), 12_000, 11_999.5),
    }


# ------------------------------------------------------------------ library


@pytest.mark.parametrize("name", list(_bad_midi()))
def test_bad_midi_raises_the_reason(name):
    data, reason = _bad_midi()[name]
    with pytest.raises(MidiReadError, match=reason) as exc:
        read_midi_bytes(data, name)
    assert str(exc.value).startswith(f"{name}: ")


def test_a_million_notes_are_refused_by_the_limit_while_reading():
    """The decoder stops at the limit (not after building a million notes): time grows with the limit only."""
    data = many_notes_midi(1_000_000)
    assert len(data) < Limits().max_file_mb * 1024 * 1024  # the size limit alone does not stop it
    with pytest.raises(MidiReadError) as exc:
        parse_midi(data, Limits(max_notes_per_file=1000))  # in this process, to see the cause
    assert isinstance(exc.value.__cause__, TooManyNotes)
    with pytest.raises(MidiReadError, match=r"big\.mid: over the limit of 1,000 notes"):
        read_midi_bytes(data, "big.mid", limits=Limits(max_notes_per_file=1000))  # the same in a worker
    assert read_midi_bytes(many_notes_midi(1000), "ok.mid", limits=Limits(max_notes_per_file=1000)).n_notes == 1000


@pytest.mark.parametrize("name", list(_odd_but_fine()))
def test_odd_but_valid_midi_loads_in_beats(name):
    data, n_notes, end_beats = _odd_but_fine()[name]
    piece = read_midi_bytes(data, name)
    assert piece.n_notes == n_notes
    assert piece.notes[:, 1].max() == pytest.approx(end_beats)
    assert np.isfinite(piece.notes).all() and np.isfinite(piece.tempo) and piece.tempo > 0


def test_extreme_tempi_play_and_tokenize():
    from musegen.output.audio import render
    from musegen.representations.registry import for_config

    for data in (tempo_midi(1), tempo_midi(0xFFFFFF)):
        piece = read_midi_bytes(data, "t.mid")
        result = render(piece)  # the tempo is clamped to what a MIDI file can hold for playback
        assert result.seconds > 0 and result.wav[:4] == b"RIFF"
        assert for_config(DataConfig()).tokenizer.tokenize(piece)[:2] == ["Pitch_60", "Duration_4"]


def test_every_bad_file_is_reported_and_the_good_ones_still_load():
    bad, odd = _bad_midi(), _odd_but_fine()
    sources = [("good.mid", GOOD), *((n, d) for n, (d, _) in bad.items()), *((n, d) for n, (d, _, _) in odd.items())]
    report = ingest_sources(sources, DataConfig(), use_cache=False)
    by_name = {r.name: r for r in report.results}
    for name, (_, reason) in bad.items():
        assert not by_name[name].ok and reason in by_name[name].reason, (name, by_name[name].reason)
    assert all(by_name[n].ok for n in ["good.mid", *odd])
    assert len(report.pieces) == 1 + len(odd)


# ------------------------------------------------------------------ uploads (library)


def _hostile_zips() -> dict[str, bytes]:
    tiny = {
        f"tiny/{i:04d}.mid": midi_bytes([(0, 0.5, 30 + i % 60), (0.5, 1 + i % 7, 30 + i % 61)]) for i in range(3000)
    }
    return {
        "bomb.zip": zip_bytes({f"zeros{i}.mid": b"\0" * (3 * 1024 * 1024) for i in range(12)}),
        "nested.zip": zip_bytes(
            {"inner.zip": zip_bytes({"deep.mid": GOOD}), "ok-in-nested.mid": midi_bytes([(0, 1, 50)])}
        ),
        "evil.zip": zip_bytes(
            {
                "../../escape.mid": GOOD,
                "/etc/absolute.mid": GOOD,
                "C:\\windows.mid": GOOD,
                "bell\x07name.mid": GOOD,
                "Bärentanz — ノート.mid": midi_bytes([(0, 1, 55), (1, 2, 57)]),
            },
            symlinks={"link.mid": "/etc/passwd"},
        ),
        "tiny.zip": zip_bytes(tiny),
        "bzip2-bomb.zip": bzip2_bomb_zip(),  # 518 bytes, 512 MiB unpacked
        "locked.zip": encrypted_zip(GOOD),
        "empty.zip": empty_zip(),
    }


UPLOAD_LIMITS = {"MUSEGEN_MAX_FILE_MB": "1", "MUSEGEN_MAX_UNPACKED_MB": "8"}  # a small bomb is enough to trip


def _check_upload_report(results: list, pieces: int) -> None:
    """The same expectations for the library, the CLI and the page (results: dicts or FileResults)."""
    rows = {(r["name"] if isinstance(r, dict) else r.name): r for r in results}

    def reason(name: str) -> str:
        r = rows[name]
        return r["reason"] if isinstance(r, dict) else r.reason

    assert "zip bomb" in reason("bomb.zip")
    assert "nested archive" in reason("nested.zip/inner.zip")
    assert "path traversal" in reason("evil.zip/../../escape.mid")
    assert "absolute path" in reason("evil.zip//etc/absolute.mid")
    assert "absolute path" in reason("evil.zip/C:\\windows.mid")
    assert "control characters" in reason("evil.zip/bell\x07name.mid")
    assert "symbolic link" in reason("evil.zip/link.mid")
    assert reason("again.mid") == "duplicate of good.mid"
    assert reason("bzip2-bomb.zip/zeros.mid") == "over the size limit of 1 MB"  # inflated 64 KiB at a time
    assert reason("locked.zip/secret.mid").startswith("encrypted (password-protected) member")
    assert reason("empty.zip") == "empty zip archive (no files inside)"
    ok = {n for n in rows if not reason(n)}
    assert {"good.mid", "nested.zip/ok-in-nested.mid", "evil.zip/Bärentanz — ノート.mid"} <= ok
    assert sum(n.startswith("tiny.zip/") for n in ok) == 3000
    assert pieces == len(ok) == 3003


def _uploads() -> list[tuple[str, bytes]]:
    return [("good.mid", GOOD), *_hostile_zips().items(), ("again.mid", GOOD)]


@pytest.mark.slow
def test_hostile_uploads_are_reported_member_by_member(monkeypatch):
    for key, value in UPLOAD_LIMITS.items():
        monkeypatch.setenv(key, value)
    sources = _uploads()
    report = ingest_sources(sources, use_cache=False)
    _check_upload_report(report.results, len(report.pieces))
    kept = [n for n, _ in usable_uploads(sources, report)]
    assert kept == ["good.mid", "nested.zip", "evil.zip", "tiny.zip"]  # the bomb and the duplicate are not saved


def test_skipped_oversized_members_still_count_towards_the_unpacked_limit():
    """Twenty members just over the per-file limit: each is cut off, but the inflating adds up to a bomb."""
    many = zip_bytes({f"big{i}.mid": b"\0" * (2 * 1024 * 1024) for i in range(20)})
    with pytest.raises(UploadError, match="zip bomb"):
        read_zip(many, "many.zip", Limits(max_file_mb=1, max_unpacked_mb=8))
    two = zip_bytes({"big.mid": b"\0" * (2 * 1024 * 1024), "a.mid": GOOD})
    assert [n for n, _ in read_zip(two, "two.zip", Limits(max_file_mb=1, max_unpacked_mb=8)).members] == ["a.mid"]


def test_too_many_tiny_files_are_refused_with_the_setting_to_change():
    tiny = _hostile_zips()["tiny.zip"]
    with pytest.raises(UploadError, match=r"3000 entries; the limit is 1000\..*MUSEGEN_MAX_ZIP_MEMBERS"):
        read_zip(tiny, "tiny.zip", Limits(max_zip_members=1000))


def test_symlinks_inside_a_folder_are_not_followed(tmp_path):
    (tmp_path / "songs").mkdir()
    (tmp_path / "songs" / "good.mid").write_bytes(GOOD)
    (tmp_path / "secret.mid").write_bytes(midi_bytes([(0, 1, 70)]))
    (tmp_path / "songs" / "link.mid").symlink_to(tmp_path / "secret.mid")
    report = ingest_paths([tmp_path / "songs"], use_cache=False)
    assert [r.name for r in report.results if r.ok] == ["good.mid"]
    assert "symbolic link" in next(r.reason for r in report.results if not r.ok)


# ------------------------------------------------------------------ the command line


def _cli(*args: str, env: dict[str, str] | None = None) -> Completed:
    return run_musegen(*args, cwd=ROOT, env={**os.environ, **(env or {})})


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_cli_ingest_reports_every_bad_midi_and_writes_nothing(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    for name, (data, _) in _bad_midi().items():
        (folder / name).write_bytes(data)
    (folder / "good.mid").write_bytes(GOOD)
    before = _tree(folder)
    proc = _cli("ingest", str(folder), "--json", "--no-cache")
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout)
    reasons = {r["name"]: r["reason"] for r in out["results"]}
    for name, (_, reason) in _bad_midi().items():
        assert reason in reasons[name], (name, reasons[name])
    assert out["ok"] == 1 and reasons["good.mid"] == ""
    assert _tree(folder) == before  # nothing written, nothing changed, nothing left behind
    # a single bad file: exit 2 and the reason on stderr, no traceback
    proc = _cli("ingest", str(folder / "million-notes.mid"))
    assert proc.returncode == 2 and "over the limit of 200,000 notes" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_cli_ingest_reports_hostile_zips(tmp_path):
    for name, data in _uploads():
        (tmp_path / name).write_bytes(data)
    proc = _cli("ingest", *[str(tmp_path / n) for n, _ in _uploads()], "--json", "--no-cache", env=UPLOAD_LIMITS)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout)
    _check_upload_report(out["results"], out["ok"])
    proc = _cli("ingest", str(tmp_path / "tiny.zip"), env={"MUSEGEN_MAX_ZIP_MEMBERS": "1000"})
    assert proc.returncode == 2 and "the limit is 1000" in proc.stderr and "Traceback" not in proc.stderr


# ------------------------------------------------------------------ the page


def _saved_files(folders: Path) -> list[Path]:
    return sorted(p for p in (folders / "runs" / ".sessions").rglob("*") if p.is_file())


@pytest.mark.slow
def test_page_reports_every_bad_midi_and_uses_the_rest(folders, chorales):
    files = [("chorale.mid", piece_midi(chorales[0])), *((n, d) for n, (d, _) in _bad_midi().items())]
    files += [(n, d) for n, (d, _, _) in _odd_but_fine().items()]
    at = ui.upload(ui.app(), files)
    assert not at.exception
    table = at.dataframe[0].value
    reasons = dict(zip(table["file"], table["reason"], strict=True))
    for name, (_, reason) in _bad_midi().items():
        assert reason in reasons[name], (name, reasons[name])
    used = 1 + len(_odd_but_fine())
    assert f"{used} of {len(files)} files are used" in at.warning[0].value
    assert at.metric[0].value == str(used)
    assert len(at.get("audio")) == 1  # the first piece plays
    crowd = ui.widget(at.selectbox, "Piece")
    crowd.set_value(crowd.options.index("simultaneous-10000")).run()
    assert not at.exception and "10000 notes" in ui.texts(at)  # its piano roll and audio too
    assert len(at.get("audio")) == 1
    # only the usable files were saved for the training worker, each inside the session's folder
    saved = _saved_files(folders)
    assert sorted(p.name for p in saved) == sorted(["chorale.mid", *_odd_but_fine()])
    assert not any(p.name.startswith(".") for p in saved)  # no temporary files left
    # the session goes on: other pages work with this dataset
    at.switch_page(ui.TRAIN).run()
    assert not at.exception and "chorale.mid" in ui.texts(at)


@pytest.mark.slow
def test_page_reports_hostile_uploads_and_saves_only_usable_ones(folders, monkeypatch):
    for key, value in UPLOAD_LIMITS.items():
        monkeypatch.setenv(key, value)
    files = [*_uploads(), ("ring\x07bell.mid", midi_bytes([(0, 1, 64)])), ("Grüße ✓.mid", midi_bytes([(0, 1, 66)]))]
    at = ui.upload(ui.app(), files)
    assert not at.exception
    table = at.dataframe[0].value
    results = [{"name": n, "reason": r or ""} for n, r in zip(table["file"], table["reason"], strict=True)]
    extra = {"ring\x07bell.mid", "Grüße ✓.mid"}
    assert {r["name"] for r in results if not r["reason"]} >= extra
    zipped = [r for r in results if r["name"] not in extra]
    _check_upload_report(zipped, sum(not r["reason"] for r in zipped))
    assert at.metric[0].value == "3,005"
    saved = _saved_files(folders)
    names = sorted(p.name for p in saved)
    assert names == sorted(["good.mid", "nested.zip", "evil.zip", "tiny.zip", "ring_bell.mid", "Grüße _.mid"])
    session = folders / "runs" / ".sessions"
    assert all(session in p.parents for p in saved)
