"""Issue 17, "Smaller": odd flags, folders, lengths, limits and archives, each answered with a reason."""

from __future__ import annotations

import dataclasses
import json
import os

import pytest

from musegen.cli import main
from musegen.config import Limits
from musegen.errors import ConfigError, MidiReadError
from musegen.sources.ingest import ingest_paths, ingest_sources, read_midi_bytes
from tests.cli_runner import Completed, run_musegen
from tests.hardening.hostile import (
    ROOT,
    empty_zip,
    encrypted_zip,
    four_byte_vlq_midi,
    long_delta_midi,
    long_meta_length_midi,
    long_piece_midi,
    nested_folders,
    remove_tree,
)
from tests.midi_factory import midi_bytes, raw_midi, scale_midi

DEMO = ROOT / "assets" / "models" / "demo-wavenet"


def _cli(*args: str, env: dict[str, str] | None = None) -> Completed:
    return run_musegen(*args, cwd=ROOT, env={**os.environ, **(env or {})})


# ------------------------------------------------------------------ generate flags


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--seconds", "inf"], "--seconds must be positive"),
        (["--seconds", "nan"], "--seconds must be positive"),
        (["--seconds", "1e308"], "--seconds must be positive, finite and at most 86,400"),
        (["--seconds", "-3"], "--seconds must be positive"),
        (["--seed", "-1"], "--seed must be a whole number from 0 to 4,294,967,295"),
        (["--seed", str(2**32)], "--seed must be a whole number from 0"),
        (["--temperature", "nan"], "--temperature must be a finite number"),
        (["--temperature", "inf"], "--temperature must be a finite number"),
        (["--top-p", "nan"], "--top-p must be a finite number"),
        (["--tempo", "nan"], "--tempo must be a finite number"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else None,
)
def test_generate_refuses_odd_numbers_with_a_message(flags, words, capsys):
    assert main(["generate", str(DEMO), "--out", "unused.mid", *flags]) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err
    assert not (ROOT / "unused.mid").exists()


@pytest.mark.slow
def test_generate_odd_numbers_give_no_traceback_from_the_command_line():
    for flags in (["--seconds", "inf"], ["--seed", "-1"], ["--temperature", "nan"]):
        proc = _cli("generate", str(DEMO), *flags)
        assert proc.returncode == 2 and proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr


# ------------------------------------------------------------------ limits from the environment


@pytest.mark.parametrize("field", [f.name for f in dataclasses.fields(Limits)])
@pytest.mark.parametrize("value", ["0", "-1", "-200000"])
def test_a_limit_of_zero_or_below_is_refused_naming_the_variable(field, value, monkeypatch):
    variable = f"MUSEGEN_{field.upper()}"
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=f"{variable} must be at least 1, got '{value}'; unset it"):
        Limits.from_env()


def test_the_cli_names_a_bad_limit_variable():
    proc = _cli("ingest", str(ROOT / "nowhere.mid"), env={"MUSEGEN_MAX_NOTES_PER_FILE": "-1"})
    assert proc.returncode == 2 and "MUSEGEN_MAX_NOTES_PER_FILE must be at least 1" in proc.stderr
    assert "Traceback" not in proc.stderr


# ------------------------------------------------------------------ folders


def test_a_folder_nested_1000_deep_gets_one_reason_and_the_rest_is_read(tmp_path):
    root = tmp_path / "deep"
    root.mkdir()
    try:
        (nested_folders(root, 1000) / "buried.mid").write_bytes(scale_midi())
        (root / "top.mid").write_bytes(midi_bytes([(0, 1, 50)]))
        report = ingest_paths([root], use_cache=False)
        rows = {r.name: r.reason for r in report.results}
        assert rows.pop("top.mid") == ""
        ((name, reason),) = rows.items()
        assert name.endswith("/d" * 33) and reason == "folder nested more than 32 levels deep (not searched)"
        proc = _cli("ingest", str(root), "--json")
        assert proc.returncode == 0 and "Traceback" not in proc.stderr
        assert json.loads(proc.stdout)["ok"] == 1
        deeper = ingest_paths([root], limits=Limits(max_folder_depth=2000), use_cache=False)
        assert deeper.n_ok == 2  # the depth is a limit like the others: MUSEGEN_MAX_FOLDER_DEPTH
    finally:
        remove_tree(root)


# ------------------------------------------------------------------ lengths


def test_a_valid_100_minute_piece_is_accepted():
    """12,000 beats at 960 ticks per beat: refused as "absurd tick values" before; the limit is 100,000 beats."""
    piece = read_midi_bytes(long_piece_midi(12_000, division=960), "long.mid")
    assert piece.n_notes == 12_000
    assert piece.notes[-1, :2] == pytest.approx([11_999, 11_999.5], abs=0.01)  # re-timed at 166 ticks per beat
    short = read_midi_bytes(long_piece_midi(100, division=960), "short.mid")  # short ones keep their exact times
    assert short.notes[-1, :2].tolist() == [99.0, 99.5]


def test_the_beat_limit_is_the_documented_one():
    with pytest.raises(MidiReadError, match="lasts over 100,000 beats"):
        read_midi_bytes(long_piece_midi(100_001, division=96), "too-long.mid")
    assert read_midi_bytes(long_piece_midi(99_999, division=96), "just.mid").n_notes == 99_999
    with pytest.raises(MidiReadError, match="lasts over 50 beats"):
        read_midi_bytes(long_piece_midi(60), "x.mid", limits=Limits(max_beats_per_file=50))


def test_delta_times_and_meta_lengths_are_capped_alike_at_4_bytes():
    for data in (long_delta_midi(4), long_meta_length_midi()):  # 5-byte numbers
        with pytest.raises(MidiReadError, match="variable-length number longer than 4 bytes"):
            read_midi_bytes(data, "five.mid")
    assert read_midi_bytes(four_byte_vlq_midi(), "four.mid").n_notes == 1
    assert read_midi_bytes(long_delta_midi(3), "four-byte-delta.mid").n_notes == 1


@pytest.mark.parametrize("junk", [1, 3, 7, 8, 9, 64, 5000])
def test_trailing_bytes_after_the_declared_tracks_are_ignored_whatever_their_length(junk):
    good = scale_midi()
    for tail in (b"\0" * junk, bytes(range(256)) * (junk // 256) + bytes(range(junk % 256)), b"MTrk"[:junk]):
        piece = read_midi_bytes(good + tail, "junk.mid")
        assert piece.notes.tolist() == read_midi_bytes(good, "clean.mid").notes.tolist()


def test_a_file_that_ends_before_its_declared_tracks_is_truncated():
    two = raw_midi(b"\x00\x90\x3c\x40\x83\x60\x80\x3c\x00\x00\xff\x2f\x00", fmt=1)
    two = two[:10] + (2).to_bytes(2, "big") + two[12:]  # the header now declares 2 tracks
    with pytest.raises(MidiReadError, match="header declares 2 tracks, the file ends after 1"):
        read_midi_bytes(two, "short.mid")
    for cut in (1, 4, 7):  # a partial chunk header where the second track should be
        with pytest.raises(MidiReadError, match="truncated"):
            read_midi_bytes(two + b"MTrk\x00\x00\x00\x04"[:cut], "short.mid")


# ------------------------------------------------------------------ archives and the report


def test_an_encrypted_member_and_an_empty_zip_get_readable_rows(tmp_path):
    sources = [("locked.zip", encrypted_zip(scale_midi())), ("empty.zip", empty_zip()), ("ok.mid", scale_midi())]
    report = ingest_sources(sources, use_cache=False)
    rows = {r.name: r.reason for r in report.results}
    assert rows == {
        "locked.zip/secret.mid": "encrypted (password-protected) member; unzip it and add the MIDI files themselves",
        "empty.zip": "empty zip archive (no files inside)",
        "ok.mid": "",
    }
    for name, data in sources:
        (tmp_path / name).write_bytes(data)
    proc = _cli("ingest", *(str(tmp_path / n) for n, _ in sources), "--json", "--no-cache")
    assert proc.returncode == 0, proc.stderr
    assert {r["name"]: r["reason"] for r in json.loads(proc.stdout)["results"]} == rows
    assert "ZipInfo" not in proc.stdout


def test_ingest_json_where_every_file_fails_still_prints_every_row(tmp_path):
    (tmp_path / "empty.mid").write_bytes(b"")
    (tmp_path / "page.mid").write_bytes(b"<html>not found</html>")
    (tmp_path / "nothing.zip").write_bytes(empty_zip())
    proc = _cli("ingest", str(tmp_path), "--json", "--no-cache")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    out = json.loads(proc.stdout)
    assert out["ok"] is False and out["kind"] == "DatasetError" and "No usable MIDI file" in out["error"]
    rows = {r["name"]: r["reason"] for r in out["results"]}
    assert rows["empty.mid"] == "empty file (0 bytes)."
    assert rows["nothing.zip"] == "empty zip archive (no files inside)"
    assert "HTML page" in rows["page.mid"]
    proc = _cli("ingest", str(tmp_path))  # the summary lists them too
    assert proc.returncode == 2 and "skip  empty.mid: empty file (0 bytes)." in proc.stdout


def test_members_read_before_a_zip_runs_over_its_budget_are_withdrawn_with_it():
    """Members are read one at a time, so a bomb is found part-way: the archive is refused as a whole."""
    from tests.midi_factory import zip_bytes

    good = {f"good{i}.mid": midi_bytes([(0, 1, 50 + i)]) for i in range(3)}
    bomb = zip_bytes({**good, **{f"z{i}.mid": bytes(3 * 1024 * 1024) for i in range(6)}})
    report = ingest_sources([("mixed.zip", bomb), ("ok.mid", scale_midi())], limits=Limits(max_unpacked_mb=8))
    rows = {r.name: r for r in report.results}
    assert all(not rows[f"mixed.zip/{n}"].ok for n in good)
    assert rows["mixed.zip/good0.mid"].reason.startswith("not used: mixed.zip unpacks to more than 8 MB (a zip bomb?)")
    assert "zip bomb" in rows["mixed.zip"].reason and rows["ok.mid"].ok
    assert [p.name for p in report.pieces] == ["ok"]
