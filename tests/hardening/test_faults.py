"""Hardening: faults injected for real, and what survives them.

- The training worker is killed with SIGKILL in the middle of an epoch: the run reads as failed
  and resumable, ``model.keras`` and ``last.keras`` load, and Resume on the Train page finishes it.
- A read-only runs folder (a tmpfs remounted read-only; a folder without write permission for other
  users): a clear error in the library, the CLI and the pages, nothing changed on disk. (A full disk
  has its own module: test_disk_full.py.)
- FluidSynth hanging or crashing while loading a SoundFont (in the child process that checks an
  untrusted font), or refusing a damaged one: a timeout or a message, and the page lives on.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from musegen import runs
from musegen.errors import SoundFontError, StorageError
from musegen.output import soundfonts
from musegen.representations.timed import TimedTokenizer
from musegen.sources.uploads import save_uploads
from musegen.training.jobs import job_status, start_training
from tests import app_helpers as ui
from tests.hardening.disks import IS_ROOT, hidden_temporaries, mount_tmpfs, umount
from tests.midi_factory import scale_midi
from tests.training_helpers import tiny_config

pytestmark = pytest.mark.slow  # trains real models or runs real processes: `pytest -m "not slow"` skips it

ROOT = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------ file systems


@pytest.fixture()
def read_only(tmp_path):
    """A folder nothing can be written into, prepared first by ``fill(folder)`` while still writable."""
    folder = tmp_path / "ro"
    mounted = IS_ROOT and mount_tmpfs(folder, "size=8m", "mode=0777")
    if IS_ROOT and not mounted:
        pytest.skip("root ignores file permissions and `mount -t tmpfs` is not allowed here")
    folder.mkdir(exist_ok=True)

    def seal() -> None:
        if mounted:
            subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True, capture_output=True)
        else:
            for p in [folder, *folder.rglob("*")]:
                if p.is_dir():
                    p.chmod(0o555)

    yield folder, seal
    if mounted:
        umount(folder)
    else:
        for p in [folder, *folder.rglob("*")]:
            if p.is_dir():
                p.chmod(0o755)


def _no_room(message: str) -> bool:
    return "read-only file system" in message or "permission denied" in message


# ------------------------------------------------------------------ a killed worker


def _wait(run_dir: Path, done, timeout: float = 240):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = job_status(run_dir)
        if done(status):
            return status
        time.sleep(0.2)
    log = (run_dir / "worker.log").read_text(errors="replace")[-3000:]
    raise AssertionError(f"{run_dir.name} stuck in {job_status(run_dir).state}:\n{log}")


EPOCHS = 4  # killed in the second, resumed for the other two


@pytest.mark.isolated
def test_a_worker_killed_mid_epoch_keeps_its_models_and_resumes_from_the_page(tmp_path, monkeypatch):
    monkeypatch.setenv("MUSEGEN_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("MUSEGEN_DEMO_DIR", str(tmp_path / "demo"))
    at = ui.app()
    sid = at.session_state["sid"]
    run_dir = start_training(tiny_config(epochs=EPOCHS, batch_size=4), [], tmp_path / "runs", owner=sid, max_pieces=12)
    first = _wait(run_dir, lambda s: not s.active or s.message == f"epoch 1/{EPOCHS} done")
    assert first.state == "running", first.message
    time.sleep(0.2)  # into the second epoch: its batches run (or its checkpoints are being written)
    os.kill(runs.read_status(run_dir)["pid"], signal.SIGKILL)
    killed = _wait(run_dir, lambda s: not s.active, timeout=30)
    assert killed.state == "failed" and "ended without finishing" in killed.message and "resume" in killed.message
    assert killed.resumable
    done_before = runs.load_run(run_dir).epochs_done
    assert 1 <= done_before < EPOCHS
    for which in ("best", "last"):  # both checkpoints are whole and load
        assert zipfile.is_zipfile(run_dir / ("model.keras" if which == "best" else "last.keras"))
        assert runs.load_run_model(run_dir, which).outputs[0].shape[-1] == len(runs.load_run(run_dir).vocab())
    # The owner's Train page says what happened and offers to resume; it finishes the run.
    at.switch_page(ui.TRAIN).run()
    assert "Training failed: the training process" in ui.texts(at)
    ui.widget(at.button, f"Resume from epoch {done_before + 1}").click().run()
    assert not at.exception and not at.error
    finished = _wait(run_dir, lambda s: not s.active)
    assert finished.state == "finished", finished.message
    history = runs.read_history(run_dir)
    assert [e.epoch for e in history.epochs] == list(range(1, EPOCHS + 1))  # no epoch lost or repeated
    epochs_of_batches = [b.epoch for b in history.batches]
    assert epochs_of_batches == sorted(epochs_of_batches)  # the killed epoch's batches are not doubled
    assert not hidden_temporaries(run_dir)
    assert finished.metrics is not None


# ------------------------------------------------------------------ a read-only runs folder


def test_read_only_runs_folder_library_cli_and_pages(read_only, tmp_path, monkeypatch):
    folder, seal = read_only
    sid = "0123456789abcdef"
    existing = runs.create_run(folder / "runs", tiny_config(), TimedTokenizer().build_vocab(), name="earlier")
    runs.write_status(existing, "finished", "all epochs done")
    runs.atomic_write_json(existing / "job.json", {"owner": sid, "data": [], "created": time.time()})
    seal()
    before = sorted(p.relative_to(folder) for p in folder.rglob("*"))

    # library: every write says why, and nothing changes on disk
    attempts = [
        lambda: start_training(tiny_config(), [], folder / "runs"),
        lambda: runs.create_run(folder / "runs", tiny_config(), TimedTokenizer().build_vocab()),
        lambda: save_uploads([("a.mid", scale_midi())], folder / "runs" / ".sessions" / sid / "data"),
        lambda: runs.delete_run(existing),
        lambda: runs.request_stop(existing),
    ]
    for attempt in attempts:
        with pytest.raises(StorageError) as exc:
            attempt()
        assert _no_room(str(exc.value)) and str(folder) in str(exc.value), str(exc.value)
    assert runs.load_run(existing).status == "finished"  # reading still works

    # command line: exit 2 with the message and the flag to change
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "musegen",
            "train",
            "--max-pieces",
            "2",
            "--epochs",
            "1",
            "--runs-dir",
            str(folder / "x"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    line = proc.stderr.strip().splitlines()[-1]
    assert line.startswith("error: Cannot create the folder") and _no_room(line)

    # pages: Start and Delete and an upload show the reason; the session goes on
    monkeypatch.setenv("MUSEGEN_RUNS_DIR", str(folder / "runs"))
    monkeypatch.setenv("MUSEGEN_DEMO_DIR", str(tmp_path / "demo"))
    at = ui.app(sid)
    at.switch_page(ui.TRAIN).run()
    ui.widget(at.button, "Start training").click().run()
    assert not at.exception and any(_no_room(e.value) for e in at.error), [e.value for e in at.error]
    at.switch_page(ui.RUNS).run()
    ui.widget(at.button, "Yes, delete it").click().run()
    assert not at.exception and any(_no_room(e.value) for e in at.error)
    ui.upload(at, [("scale.mid", scale_midi())])
    assert not at.exception and any(_no_room(e.value) for e in at.error)
    assert sorted(p.relative_to(folder) for p in folder.rglob("*")) == before


# ------------------------------------------------------------------ FluidSynth and SoundFonts

HANG = "import time; time.sleep(120)"
CRASH = "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"


def _untrusted_font(tmp_path: Path, name: str) -> Path:
    """A copy of a real General MIDI font outside the trusted folders: it is checked in a child process."""
    font = tmp_path / name
    shutil.copy(soundfonts.bundled_soundfont(), font)
    return font


def test_a_soundfont_that_hangs_fluidsynth_times_out(tmp_path, monkeypatch):
    from musegen.notes import Piece, make_notes
    from musegen.output.audio import render

    monkeypatch.setattr(soundfonts, "_PROBE", HANG)
    font = _untrusted_font(tmp_path, "hangs.sf2")
    started = time.monotonic()
    with pytest.raises(SoundFontError, match=r"took longer than 2 s; the file is probably damaged"):
        soundfonts.check_soundfont(font, timeout_s=2)
    assert time.monotonic() - started < 60  # the child was killed at the timeout, not waited for
    with pytest.raises(SoundFontError, match="took longer"):  # the verdict is remembered: no second wait
        render(Piece("x", make_notes([(0, 1, 60, 80)])), soundfont=font)


def test_a_soundfont_that_crashes_fluidsynth_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(soundfonts, "_PROBE", CRASH)
    with pytest.raises(SoundFontError, match=r"crashed FluidSynth \(signal 11\); the file is damaged"):
        soundfonts.check_soundfont(_untrusted_font(tmp_path, "crashes.sf2"))


def test_the_page_lives_on_when_the_soundfont_hangs_crashes_or_is_damaged(tmp_path, monkeypatch):
    monkeypatch.setenv("MUSEGEN_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("MUSEGEN_DEMO_DIR", str(tmp_path / "demo"))
    monkeypatch.setattr(soundfonts, "PROBE_TIMEOUT_S", 2.0)
    damaged = tmp_path / "damaged.sf2"
    body = os.urandom(20_000)
    damaged.write_bytes(b"RIFF" + len(body).to_bytes(4, "little") + b"sfbk" + body)
    cases = [(HANG, _untrusted_font(tmp_path, "hangs.sf2"), "took longer than 2 s")]
    cases += [(CRASH, _untrusted_font(tmp_path, "crashes.sf2"), "crashed FluidSynth")]
    cases += [(soundfonts._PROBE, damaged, "cannot load the SoundFont")]
    from pages.common import render_audio

    render_audio.clear()  # audio rendered earlier in this process must not hide the fault
    at = ui.app()
    for i, (probe, font, words) in enumerate(cases):
        monkeypatch.setattr(soundfonts, "_PROBE", probe)
        monkeypatch.setenv("MUSEGEN_SOUNDFONT", str(font))
        if i == 0:
            at.switch_page(ui.DATASET)  # the built-in chorales: the first piece is played
        at.run()
        assert not at.exception
        assert any(e.value.startswith("No audio:") and words in e.value for e in at.error), [e.value for e in at.error]
        assert at.metric[0].value == "371"  # the rest of the page is there
