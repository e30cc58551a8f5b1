"""Uploads: the outer size gate and the per-session folder the training worker reads."""

from __future__ import annotations

import pytest

from musegen.config import Limits
from musegen.errors import UploadError
from musegen.sources.ingest import ingest_paths
from musegen.sources.uploads import save_uploads, screen_uploads, session_folder, valid_session_id
from tests.midi_factory import scale_midi


def test_screen_uploads_rejects_oversized_and_surplus_files():
    limits = Limits(max_upload_mb=1, max_files=2)
    big = b"\0" * (2 * 1024 * 1024)
    accepted, rejected = screen_uploads([("a.mid", b"x"), ("huge.zip", big), ("b.mid", b"y"), ("c.mid", b"z")], limits)
    assert [n for n, _ in accepted] == ["a.mid", "b.mid"]
    assert [(r.name, r.ok) for r in rejected] == [("huge.zip", False), ("c.mid", False)]
    assert "over the upload limit of 1 MB" in rejected[0].reason
    assert "2 files" in rejected[1].reason


def test_saved_uploads_stay_inside_the_folder_and_ingest(tmp_path):
    folder = tmp_path / "session" / "data"
    data = scale_midi()
    save_uploads([("../../evil.mid", data), ("dir\\odd name?.mid", data + b""), ("scale.mid", scale_midi(40))], folder)
    files = sorted(p for p in tmp_path.rglob("*") if p.is_file())
    assert all(folder in p.parents for p in files)
    assert {p.name for p in files} == {"evil.mid", "odd name_.mid", "scale.mid"}
    save_uploads([("scale.mid", scale_midi(40))], folder)  # the same bytes again: nothing new
    assert len([p for p in folder.rglob("*") if p.is_file()]) == 3
    report = ingest_paths([folder])
    assert report.n_ok == 2  # evil.mid and odd name_.mid hold the same bytes: one is a duplicate
    assert {p.name for p in report.pieces} <= {"evil", "odd name_", "scale"}


@pytest.mark.parametrize("sid", ["", "short", "../../etc", "a" * 65, "abc def ghi"])
def test_session_ids_that_could_escape_are_refused(tmp_path, sid):
    assert not valid_session_id(sid)
    with pytest.raises(UploadError, match="reload the page"):
        session_folder(tmp_path, sid)


def test_session_folder_is_hidden_inside_the_runs_dir(tmp_path):
    assert session_folder(tmp_path, "0123456789abcdef") == tmp_path / ".sessions" / "0123456789abcdef"
