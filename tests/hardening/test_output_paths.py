"""Issue 17, "Writing where it must not": the atomic writers replace only regular files, and the
``--out`` of generate and render says why a path cannot be written, before any work is done."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from musegen.errors import StorageError
from musegen.fileio import atomic_write_bytes, atomic_write_json, check_target
from tests.cli_runner import Completed, run_musegen
from tests.hardening.hostile import ROOT
from tests.midi_factory import scale_midi

DEMO = ROOT / "assets" / "models" / "demo-wavenet"


def _odd_targets(folder: Path) -> dict[str, tuple[Path, str]]:
    """Name -> (a path that is not a regular file, the words the refusal must contain)."""
    (folder / "real.mid").write_bytes(b"keep me")
    (folder / "link.mid").symlink_to(folder / "real.mid")
    (folder / "dangling.mid").symlink_to(folder / "nowhere.mid")
    (folder / "a-folder.mid").mkdir()
    os.mkfifo(folder / "fifo.mid")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(folder / "sock.mid"))
    sock.close()
    targets = {
        "symlink": (folder / "link.mid", "a symbolic link"),
        "dangling symlink": (folder / "dangling.mid", "a symbolic link"),
        "folder": (folder / "a-folder.mid", "a folder"),
        "fifo": (folder / "fifo.mid", "a FIFO"),
        "socket": (folder / "sock.mid", "a socket"),
    }
    if os.path.exists("/dev/null"):
        targets["character device"] = (Path("/dev/null"), "a character device")
    return targets


def _state(path: Path) -> tuple:
    st = os.lstat(path)
    return (st.st_mode, st.st_ino, os.readlink(path) if path.is_symlink() else None)


def test_the_atomic_writers_never_replace_what_is_not_a_regular_file(tmp_path):
    for name, (path, words) in _odd_targets(tmp_path).items():
        before = _state(path)
        for write in (lambda p: atomic_write_bytes(p, b"x"), lambda p: atomic_write_json(p, {"a": 1})):
            with pytest.raises(StorageError, match=words) as exc:
                write(path)
            assert "only replaces regular files" in str(exc.value), name
        assert _state(path) == before, name  # still the same link, folder, device...
    assert (tmp_path / "real.mid").read_bytes() == b"keep me"  # a link's target is not written through
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary file left behind
    atomic_write_bytes(tmp_path / "real.mid", b"new")  # a regular file is replaced, as before
    assert (tmp_path / "real.mid").read_bytes() == b"new"


def test_names_that_are_not_file_names_and_folders_that_cannot_exist(tmp_path):
    for bad in ("", ".", "..", str(tmp_path) + "/"):
        with pytest.raises(StorageError, match=r"not a file name|a folder"):
            check_target(bad)
    with pytest.raises(StorageError, match=r"Cannot write /proc/.*choose another path"):
        atomic_write_bytes("/proc/musegen-nowhere/x.mid", b"x")
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(StorageError, match="is a file, not a folder"):
        atomic_write_bytes(tmp_path / "file" / "x.mid", b"x")


def _cli(*args: str) -> Completed:
    return run_musegen(*args, cwd=ROOT)


@pytest.mark.slow
@pytest.mark.parametrize("command", ["generate", "render"])
def test_out_onto_a_device_fifo_link_or_folder_is_refused_with_a_message(tmp_path, command):
    song = tmp_path / "song.mid"
    song.write_bytes(scale_midi())
    source = str(DEMO if command == "generate" else song)  # generate refuses before it loads the run
    odd = tmp_path / "odd"
    odd.mkdir()
    targets = _odd_targets(odd)  # the writers see every kind; the commands four of them (a second each)
    for name in ("character device", "fifo", "symlink", "folder"):
        path, words = targets.get(name, targets["socket"])
        before = _state(path)
        proc = _cli(command, source, "--out", str(path))
        assert proc.returncode == 2, (name, proc.stderr[-1000:])
        assert f"Cannot write {path}: it is {words}" in proc.stderr and "Traceback" not in proc.stderr, name
        assert _state(path) == before, name


@pytest.mark.slow
@pytest.mark.parametrize("command", ["generate", "render"])
def test_an_empty_out_and_an_impossible_folder_get_a_message(tmp_path, command):
    song = tmp_path / "song.mid"
    song.write_bytes(scale_midi())
    source = str(DEMO if command == "generate" else song)
    proc = _cli(command, source, "--out", "")
    assert proc.returncode == 2 and "--out needs a file name" in proc.stderr and "Traceback" not in proc.stderr
    for impossible in ("/proc/musegen-nowhere/x.out", "/proc/self/x.out", str(song) + "/x.out"):
        proc = _cli(command, source, "--out", impossible)
        assert proc.returncode == 2, proc.stderr[-1000:]
        assert "Cannot " in proc.stderr and "choose another path" in proc.stderr and "Traceback" not in proc.stderr


def test_a_seed_or_render_input_that_is_not_a_regular_file_is_refused(tmp_path):
    fifo = tmp_path / "seed.mid"
    os.mkfifo(fifo)
    for args in (("generate", str(DEMO), "--seed-midi", str(fifo)), ("render", str(fifo))):
        proc = _cli(*args, "--out", str(tmp_path / "out.x"))
        assert proc.returncode == 2 and "not a regular file but a FIFO" in proc.stderr, proc.stderr[-1000:]
    proc = _cli("render", "/dev/zero", "--out", str(tmp_path / "z.wav"))
    assert proc.returncode == 2 and "not a regular file but a character device" in proc.stderr
