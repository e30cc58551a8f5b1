"""Which runs a session sees and what it may do with them: its own, the demos, the shared command-line runs."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from musegen import runs
from musegen.errors import AccessError
from musegen.paths import PROJECT_ROOT
from musegen.records import History
from musegen.training.jobs import JOB
from musegen.training.visibility import (
    delete_run,
    demo_dir,
    model_choices,
    model_stamp,
    runs_dir,
    stop_run,
    visible_runs,
)
from tests.training_helpers import tiny_config

ALICE, BOB = "alice0000000000a", "bob000000000000b"


def _run(folder: Path, name: str, owner: str | None, *, state: str = "finished", model: bool = True) -> Path:
    """A run folder as a worker leaves it; ``owner`` None: made on the command line (no job.json)."""
    path = folder / name
    path.mkdir(parents=True)
    runs.atomic_write_text(path / runs.CONFIG, tiny_config().to_json())
    runs.write_status(path, state, "")
    runs.write_history(path, History(best_value=1.25, best_epoch=1))
    if model:
        (path / runs.MODEL).write_bytes(b"a model")  # only its presence matters here
    if owner is not None:
        runs.atomic_write_json(path / JOB, {"owner": owner, "data": [], "created": time.time()})
    return path


@pytest.fixture()
def server(tmp_path) -> tuple[Path, Path]:
    trained, demos = tmp_path / "runs", tmp_path / "demo"
    _run(trained, "alice-1", ALICE)
    _run(trained, "alice-running", ALICE, state="running", model=False)
    _run(trained, "bob-1", BOB)
    _run(trained, "cli-1", None)
    _run(demos, "demo-lstm", None)
    return trained, demos


def test_the_folders_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("MUSEGEN_RUNS_DIR", raising=False)
    monkeypatch.delenv("MUSEGEN_DEMO_DIR", raising=False)
    assert (runs_dir(), demo_dir()) == (PROJECT_ROOT / "runs", PROJECT_ROOT / "assets" / "models")
    monkeypatch.setenv("MUSEGEN_RUNS_DIR", str(tmp_path / "r"))
    monkeypatch.setenv("MUSEGEN_DEMO_DIR", str(tmp_path / "d"))
    assert (runs_dir(), demo_dir()) == (tmp_path / "r", tmp_path / "d")


def test_a_session_picks_from_its_own_models_the_demos_and_the_shared_runs(server):
    trained, demos = server
    labels = [c.label for c in model_choices(trained, demos, ALICE)]
    assert labels == [
        "alice-1 (finished, loss 1.250) · yours",
        "demo-lstm (bundled demo, wavenet)",
        "cli-1 (finished, loss 1.250) · shared",
    ]  # not Bob's run, not the run without a model
    choices = model_choices(trained, demos, ALICE)
    assert [(c.demo, c.owner_run) for c in choices] == [(False, True), (True, False), (False, False)]
    assert [c.label for c in model_choices(trained, demos)] == [labels[1], labels[2]]  # no session: shared only


def test_the_runs_page_lists_what_a_session_sees_and_what_it_may_do(server):
    trained, demos = server
    listed = {r.info.run_id: (r.demo, r.action) for r in visible_runs(trained, demos, ALICE)}
    assert listed == {
        "alice-1": (False, "delete"),
        "alice-running": (False, "stop"),
        "cli-1": (False, "shared"),
        "demo-lstm": (True, "demo"),
    }
    assert {r.info.run_id for r in visible_runs(trained, demos, BOB)} == {"bob-1", "cli-1", "demo-lstm"}


def test_only_the_owner_stops_or_deletes_a_run(server):
    trained, _ = server
    with pytest.raises(AccessError):
        stop_run(trained / "alice-running", BOB)
    with pytest.raises(AccessError):
        delete_run(trained / "cli-1", ALICE)  # shared runs are managed on disk
    stop_run(trained / "alice-running", ALICE)
    assert runs.stop_requested(trained / "alice-running")
    delete_run(trained / "alice-1", ALICE)
    assert not (trained / "alice-1").exists()


def test_the_model_stamp_changes_when_the_model_is_written_again(server):
    trained, _ = server
    assert model_stamp(trained / "alice-running") == 0.0  # no model yet
    first = model_stamp(trained / "alice-1")
    later = time.time() + 10
    os.utime(trained / "alice-1" / runs.MODEL, (later, later))
    assert model_stamp(trained / "alice-1") > first > 0
