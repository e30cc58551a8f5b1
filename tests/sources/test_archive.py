"""Safe zip reading: traversal, symlinks, nesting, bombs and member counts."""

from __future__ import annotations

import io
import stat
import zipfile

import pytest

from musegen.archive import read_zip, unsafe_name_reason
from musegen.config import Limits
from musegen.errors import UploadError
from tests.midi_factory import scale_midi


def _zip(entries: dict[str, bytes], symlink: str | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "/etc/passwd")
    return buf.getvalue()


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("../x.mid", "traversal"),
        ("a/../../x.mid", "traversal"),
        ("/etc/x.mid", "absolute"),
        ("C:\\x.mid", "absolute"),
        ("a\x07b.mid", "control"),
        ("ok/fine.mid", None),
    ],
)
def test_unsafe_names(name, reason):
    got = unsafe_name_reason(name)
    assert (got is None) if reason is None else (reason in got)


def test_symlink_nested_and_metadata_are_skipped():
    data = _zip(
        {"a.mid": scale_midi(), "inner.zip": _zip({"b.mid": scale_midi()}), "__MACOSX/._a.mid": b"x"},
        symlink="link.mid",
    )
    contents = read_zip(data, "up.zip")
    assert [n for n, _ in contents.members] == ["a.mid"]
    reasons = dict(contents.skipped)
    assert "symbolic link" in reasons["link.mid"]
    assert "nested archive" in reasons["inner.zip"]
    assert "macOS" in reasons["__MACOSX/._a.mid"]


def test_zip_bomb_is_refused_by_bytes_inflated():
    bomb = _zip({f"z{i}.mid": b"\0" * (3 * 1024 * 1024) for i in range(4)})
    assert len(bomb) < 100_000
    with pytest.raises(UploadError, match="zip bomb"):
        read_zip(bomb, "bomb.zip", Limits(max_file_mb=5, max_unpacked_mb=8))


def test_oversized_member_is_skipped_others_kept():
    data = _zip({"huge.mid": b"\0" * (2 * 1024 * 1024), "a.mid": scale_midi()})
    contents = read_zip(data, "x.zip", Limits(max_file_mb=1))
    assert [n for n, _ in contents.members] == ["a.mid"]
    assert "size limit" in dict(contents.skipped)["huge.mid"]


def test_too_many_members_and_not_a_zip():
    data = _zip({f"{i}.mid": b"x" for i in range(20)})
    with pytest.raises(UploadError, match="entries"):
        read_zip(data, "many.zip", Limits(max_zip_members=10))
    with pytest.raises(UploadError, match="not a readable zip"):
        read_zip(b"PK\x03\x04garbage", "broken.zip")
