"""Hardening: the disk fills up while a training writes its checkpoint and history, and while an upload is stored.

A real file system where the tests run as root (a 4 MB tmpfs, filled by another file at the moment the test
chooses); where ``mount`` is not allowed the tmpfs tests skip, and the same writers get ENOSPC injected at
their write instead (the last test). What must hold:

- a training ends with a message saying what could not be written, where, and which epoch's checkpoint the
  run keeps ("... Free some space and resume."): raised by the library, printed by the CLI (no traceback),
  in status.json even when not a byte is free (written over the old one in place);
- the checkpoint files of the last good epoch are byte for byte those of before, no temporary file is left,
  and once space is freed the run resumes and finishes, no epoch lost or repeated;
- an upload is stored whole or not at all: the files of it already written are taken back.
"""

from __future__ import annotations

import errno
import io
import os
import re
import zipfile
from pathlib import Path

import pytest

from musegen import runs
from musegen.errors import StorageError
from musegen.sources.uploads import save_uploads
from musegen.training.jobs import job_status
from tests import app_helpers as ui
from tests.hardening.disks import IS_ROOT, fill, hidden_temporaries, leave_free, mount_tmpfs, umount
from tests.midi_factory import scale_midi
from tests.training_helpers import tiny_config

pytestmark = pytest.mark.slow  # trains a real model: `pytest -m "not slow"` skips it

ROOM_FOR_JSON = 40 * 1024  # room for the run's small JSON files, not for a model (about 200 KB)


@pytest.fixture()
def small_disk(tmp_path):
    """A real 4 MB file system (tmpfs): fill it to make the disk full."""
    disk = tmp_path / "disk"
    if not IS_ROOT or not mount_tmpfs(disk, "size=4m", "mode=0777"):
        pytest.skip("a disk-full test needs a tmpfs: run as root where `mount -t tmpfs` is allowed")
    yield disk
    umount(disk)


def _checkpoints(run_dir: Path) -> dict[str, bytes]:
    return {name: (run_dir / name).read_bytes() for name in (runs.MODEL, runs.LAST)}


def _kept(what: str, run_dir: Path, file: str, epoch: int) -> str:
    return (
        f"The disk is full: {what} could not be written to {run_dir / file}; the run keeps its checkpoint of "
        f"epoch {epoch}. Free some space and resume."
    )


def test_disk_full_during_a_training_keeps_its_last_good_checkpoint_and_resumes(
    small_disk, chorales, monkeypatch, capsys
):
    from musegen.cli import main
    from musegen.datasets.dataset import build_dataset
    from musegen.training import callbacks
    from musegen.training.loop import train

    monkeypatch.setattr(callbacks, "HISTORY_EVERY_S", 0.0)  # history.json after every batch
    config = tiny_config("lstm", epochs=3)
    data = build_dataset(chorales[:4], config.data)
    _FullFile.room = 1 << 30  # space again
    run_dir = runs.create_run(small_disk / "runs", config, data.vocab)
    kept: dict[str, bytes] = {}

    def fill_in_epoch_2(event) -> None:  # another program takes the last byte in the first batch of epoch 2
        if event.kind == "batch" and event.epoch == 2 and not kept:
            kept.update(_checkpoints(run_dir))
            fill(small_disk, leave=0)

    # 1. history.json of epoch 2 finds no room; status.json still says so (written over in place)
    with pytest.raises(StorageError) as exc:
        train(config, data, run_dir, on_progress=fill_in_epoch_2, evaluate=False)
    expected = _kept("the training history of epoch 2", run_dir, runs.HISTORY, 1)
    assert str(exc.value) == expected and exc.value.errno == errno.ENOSPC
    job = job_status(run_dir)
    assert (job.state, job.message, job.resumable) == ("failed", expected, True)
    assert _checkpoints(run_dir) == kept and not hidden_temporaries(small_disk)

    # 2. room for the JSON files but not a model: the command line resumes, the checkpoint of epoch 2 is cut short
    filler = small_disk / "filler.bin"
    leave_free(filler, ROOM_FOR_JSON)
    code = main(["train", "--resume", str(run_dir), "--epochs", "3", "--no-eval"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    line = err.strip().splitlines()[-1]
    file = re.search(r"(model|last)\.keras", line)
    assert file and line == "error: " + _kept("the checkpoint of epoch 2", run_dir, file.group(0), 1), line
    assert job_status(run_dir).message == line.removeprefix("error: ")
    assert _checkpoints(run_dir) == kept and not hidden_temporaries(small_disk)
    assert runs.load_run_model(run_dir, "last").outputs[0].shape[-1] == len(data.vocab)  # whole, and loads

    # 3. space again: the run resumes from epoch 2 and finishes
    filler.unlink()
    result = train(config, runs.load_dataset(run_dir), run_dir, resume=True, evaluate=False)
    assert (result.status, result.epochs_done) == ("finished", 3)
    history = runs.read_history(run_dir)
    assert [e.epoch for e in history.epochs] == [1, 2, 3]
    assert [b.epoch for b in history.batches] == sorted(b.epoch for b in history.batches)  # epoch 2 not doubled
    assert job_status(run_dir).state == "finished" and not hidden_temporaries(small_disk)


def _upload_zip(size: int) -> bytes:
    """A zip of a MIDI file and ``size`` bytes that do not compress (stored as they are)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("scale.mid", scale_midi())
        zf.writestr("padding.bin", os.urandom(size))
    return buffer.getvalue()


UPLOAD = [("a.mid", scale_midi()), ("b.zip", _upload_zip(200_000)), ("c.mid", scale_midi(program=40))]


def _stored(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def test_disk_full_while_an_upload_is_stored_keeps_none_of_it(small_disk):
    runs_dir = small_disk / "runs"
    runs_dir.mkdir()
    folder = runs_dir / ".sessions" / "0123456789abcdef" / "data" / "upload-1"
    filler = fill(small_disk, leave=ROOM_FOR_JSON)  # a.mid fits, b.zip is cut short
    with pytest.raises(StorageError) as exc:
        save_uploads(UPLOAD, folder)
    assert str(exc.value) == (
        f"The disk is full: the uploaded files could not be stored in {folder}; none of them was kept. "
        "Free some space and upload them again."
    )
    assert exc.value.errno == errno.ENOSPC
    assert list(runs_dir.rglob("*")) == []  # a.mid and the folders made for it are gone again
    filler.unlink()
    assert save_uploads(UPLOAD, folder) == folder
    assert sorted(p.read_bytes() for p in _stored(folder)) == sorted(data for _, data in UPLOAD)


def test_disk_full_on_upload_is_a_message_on_the_page(small_disk, tmp_path, monkeypatch):
    monkeypatch.setenv("MUSEGEN_RUNS_DIR", str(small_disk / "runs"))
    monkeypatch.setenv("MUSEGEN_DEMO_DIR", str(tmp_path / "demo"))
    (small_disk / "runs").mkdir()
    fill(small_disk, leave=0)
    at = ui.upload(ui.app(), [("scale.mid", scale_midi())])
    assert not at.exception
    assert any(e.value.startswith("The disk is full: the uploaded files") for e in at.error), [
        e.value for e in at.error
    ]
    assert not hidden_temporaries(small_disk) and not _stored(small_disk / "runs")
    at.switch_page(ui.GENERATE).run()  # the session goes on
    assert not at.exception


# ------------------------------------------------------------------ without a tmpfs: ENOSPC at the write


class _FullFile(io.FileIO):
    """A file whose disk fills after ``room`` more bytes: a write past it stores what fits, then ENOSPC."""

    room = 0

    def write(self, data) -> int:
        if len(data) > _FullFile.room:
            super().write(bytes(data)[: _FullFile.room])
            _FullFile.room = 0
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        _FullFile.room -= len(data)
        return super().write(data)


def test_enospc_at_the_write_upload_taken_back_status_written_in_place(tmp_path, monkeypatch):
    from musegen import fileio
    from musegen.representations.timed import TimedTokenizer

    monkeypatch.setattr(fileio, "open", lambda path, mode: _FullFile(path, mode.replace("b", "")), raising=False)
    _FullFile.room = 10_000  # the atomic writer's file: a.mid fits, b.zip is cut short
    folder = tmp_path / "runs" / ".sessions" / "0123456789abcdef" / "data" / "upload-1"
    with pytest.raises(StorageError, match=r"^The disk is full: the uploaded files could not be stored in "):
        save_uploads(UPLOAD, folder)
    assert list((tmp_path / "runs").rglob("*")) == []  # the folders made for it went too

    _FullFile.room = 1 << 30  # space again
    run_dir = runs.create_run(tmp_path / "runs", tiny_config(), TimedTokenizer().build_vocab())
    runs.write_status(run_dir, "running", "epoch 3/4 done; a message long enough for the one to come")
    _FullFile.room = 0  # no room for status.json's temporary file: written over the old one
    runs.write_status(run_dir, "failed", "The disk is full: ...")
    assert runs.read_status(run_dir)["message"] == "The disk is full: ..."
    assert not hidden_temporaries(tmp_path)
    with pytest.raises(StorageError, match="no space left"):  # longer than the old file's room: refused, untouched
        fileio.overwrite_in_place(run_dir / runs.STATUS, b" " * 100_000)
    assert runs.read_status(run_dir)["state"] == "failed"

    full = StorageError("Cannot write x")
    full.errno, full.path = errno.ENOSPC, "/r/last.keras"
    assert str(runs.write_failure(full, "the checkpoint of epoch 1", 0, 0)) == (
        "The disk is full: the checkpoint of epoch 1 could not be written to /r/last.keras; the run has no checkpoint "
        "yet. Free some space and train it again."
    )
    assert str(runs.write_failure(full, "the training history of epoch 3", 3, 2)).endswith(
        "the run keeps its checkpoint of epoch 3, but its history ends at epoch 2, so a resume trains epoch 3 once "
        "more. Free some space and resume."
    )
