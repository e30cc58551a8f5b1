"""A session's dataset: uploads screened, read once per set of files, saved where its trainings read them."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from musegen.config import DataConfig, Limits
from musegen.sources.ingest import BUILTIN_NAME, FileResult
from musegen.sources.uploads import SESSIONS
from musegen.training import session_data
from musegen.training.session_data import LoadedDataset, dataset_key, load_dataset, upload_name
from tests.midi_factory import midi_bytes, piece_midi, scale_midi

SID, IDLE = "session000000001", "idlesession00002"
PAGE = b"<!DOCTYPE html><html></html>"


def test_the_key_follows_the_files_and_the_filter_but_not_the_token_settings():
    files = [("a.mid", scale_midi())]
    key = dataset_key(files, DataConfig())
    assert key.startswith("upload-") and dataset_key([], DataConfig()).startswith(BUILTIN_NAME)
    assert dataset_key(files, DataConfig(window=32, representation="pianoroll")) == key  # read the same way
    assert dataset_key([("b.mid", scale_midi())], DataConfig()) != key  # another name
    assert dataset_key([("a.mid", scale_midi(program=40))], DataConfig()) != key  # other bytes
    assert dataset_key(files, DataConfig(instrument_filter="piano")) != key


def test_uploads_are_read_and_only_the_usable_ones_saved_in_the_sessions_folder(tmp_path, chorales):
    files = [("good.mid", piece_midi(chorales[0])), ("also-good.mid", piece_midi(chorales[1])), ("page.mid", PAGE)]
    ds = load_dataset(files, DataConfig(), tmp_path, SID)
    assert (len(ds.pieces), ds.n_used, len(ds.results)) == (2, 2, 3)
    assert not ds.builtin and ds.name == "good.mid, also-good.mid and 1 more"
    folder = Path(ds.data_paths[0])
    assert folder.is_relative_to(tmp_path / SESSIONS / SID / "data")
    assert sorted(p.name for p in folder.rglob("*.mid")) == ["also-good.mid", "good.mid"]  # not the HTML page
    assert ds.n_notes == chorales[0].n_notes + chorales[1].n_notes


def test_files_over_the_limits_are_rejected_before_reading(tmp_path):
    files = [(f"{k}.mid", midi_bytes([(0.0, 0.5, 60 + k), (0.5, 1.0, 64 + k)])) for k in range(3)]
    ds = load_dataset(files, DataConfig(), tmp_path, SID, limits=Limits(max_files=2))
    assert [r.ok for r in ds.results] == [False, True, True]  # the rejections come first
    assert "over the limit of 2 files" in ds.results[0].reason


def test_the_same_files_are_not_read_again_when_only_the_token_settings_change(tmp_path, monkeypatch):
    files = [("a.mid", scale_midi())]
    first = load_dataset(files, DataConfig(), tmp_path, SID)

    def fail(*args, **kwargs):
        raise AssertionError("the files were read again")

    monkeypatch.setattr(session_data, "ingest_sources", fail)
    again = load_dataset(files, DataConfig(window=32), tmp_path, SID, current=first)
    assert again.pieces is first.pieces and again.data.window == 32 and first.data.window == 128
    with pytest.raises(AssertionError, match="read again"):
        load_dataset(files, DataConfig(instrument_filter="piano"), tmp_path, SID, current=first)


def test_loading_removes_the_uploads_of_idle_sessions_but_not_its_own(tmp_path):
    idle = tmp_path / SESSIONS / IDLE / "data" / "k"
    idle.mkdir(parents=True)
    (idle / "a.mid").write_bytes(scale_midi())
    two_days_ago = time.time() - 48 * 3600
    for path in (idle / "a.mid", idle, idle.parent, idle.parent.parent):
        os.utime(path, (two_days_ago, two_days_ago))
    load_dataset([("a.mid", scale_midi())], DataConfig(), tmp_path, SID)
    assert sorted(p.name for p in (tmp_path / SESSIONS).iterdir()) == [SID]


def test_the_builtin_corpus_needs_no_files_and_saves_nothing(tmp_path):
    ds = load_dataset([], DataConfig(), tmp_path, SID)
    assert ds.builtin and ds.name == BUILTIN_NAME and len(ds.pieces) == 371
    assert not (tmp_path / SESSIONS).exists()


def test_the_file_table_puts_skipped_files_first_and_the_summary_says_why():
    results = [FileResult("a.mid", True, n_notes=5), FileResult("b*.mid", False, "no notes"), FileResult("c", True)]
    ds = LoadedDataset("x", "k", [], results, DataConfig())
    rows = ds.file_rows()
    assert [r["file"] for r in rows] == ["b*.mid", "a.mid", "c"]
    assert rows[0] == {"file": "b*.mid", "status": "skipped", "notes": None, "reason": "no notes"}
    assert rows[1]["notes"] == 5
    summary = ds.file_summary(escape=lambda s: s.replace("*", "\\*"))
    assert summary == "2 of 3 files are used; 1 skipped:\n- **b\\*.mid**: no notes"
    many = LoadedDataset("x", "k", [], [FileResult(f"{k}.mid", False, "bad") for k in range(7)], DataConfig())
    assert many.file_summary().endswith("- … and 2 more (see the table)")
    assert LoadedDataset("x", "k", [], results[:1], DataConfig()).file_summary() == "All 1 files are used."


def test_an_upload_is_named_by_its_first_files():
    assert upload_name(["a.mid"]) == "a.mid"
    assert upload_name(["a.mid", "b.mid"]) == "a.mid, b.mid"
    assert upload_name(["a", "b", "c", "d"]) == "a, b and 2 more"
