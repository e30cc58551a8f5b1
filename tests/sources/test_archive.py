"""Safe zip reading: traversal, symlinks, nesting, bombs and member counts."""

from __future__ import annotations

import io
import stat
import zipfile

import pytest

from musegen.config import Limits
from musegen.errors import UploadError
from musegen.sources.archive import read_zip, unsafe_name_reason
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


@pytest.mark.parametrize(
    "method", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA], ids=str
)
def test_every_compression_method_gives_the_exact_bytes(method, chorales):
    """Members are inflated by musegen itself (in bounded steps): what comes out is what went in."""
    from tests.midi_factory import piece_midi

    files = {f"{p.name}.mid": piece_midi(p) for p in chorales[:4]}
    files["big.mid"] = b"MThd" + bytes(range(256)) * 2000  # over many 64 KiB steps
    files["empty.mid"] = b""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=method) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    contents = read_zip(buf.getvalue(), "all.zip")
    assert dict(contents.members) == files and not contents.skipped


def test_damaged_members_are_reported_and_the_others_read():
    data = bytearray(_zip({"a.mid": scale_midi() * 50, "b.mid": scale_midi()}))
    where = data.find(b"a.mid") + 20  # inside a.mid's compressed bytes
    data[where] ^= 0xFF
    contents = read_zip(bytes(data), "hurt.zip")
    reasons = dict(contents.skipped)
    assert "unreadable zip member" in reasons["a.mid"] and "re-create the archive" in reasons["a.mid"]
    assert [n for n, _ in contents.members] == ["b.mid"]


def test_encrypted_and_unsupported_members_get_readable_reasons():
    from tests.hardening.hostile import encrypted_zip, raw_zip

    reasons = dict(read_zip(encrypted_zip(scale_midi()), "locked.zip").skipped)
    assert reasons["secret.mid"] == "encrypted (password-protected) member; unzip it and add the MIDI files themselves"
    odd = raw_zip([("ppmd.mid", 98, b"xxxx", 0, 4)])
    reasons = dict(read_zip(odd, "odd.zip").skipped)
    assert reasons == {"ppmd.mid": "compressed with an unsupported method (98); re-create the zip with deflate"}


def test_a_zip_on_disk_is_read_member_by_member_from_its_file(tmp_path):
    from musegen.sources.ingest import ingest_paths

    path = tmp_path / "pack.zip"
    path.write_bytes(_zip({"a.mid": scale_midi(), "notes.txt": b"hi"}))
    report = ingest_paths([path], use_cache=False)
    assert [(r.name, r.ok) for r in report.results] == [("pack.zip/a.mid", True), ("pack.zip/notes.txt", False)]
    assert (
        "over the upload limit of 1 MB"
        in ingest_paths([_big_zip(tmp_path)], limits=Limits(max_upload_mb=1), use_cache=False).results[0].reason
    )


def _big_zip(folder):
    path = folder / "big.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("x.mid", bytes(2 * 1024 * 1024))
    return path
