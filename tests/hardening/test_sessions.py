"""Hardening: several users on one server. Each session sees and manages only its own runs.

A run started from the app carries its browser session as ``owner`` in ``job.json``. Other
sessions do not see it on the Runs page or in the Generate picker and cannot stop or delete
it; the bundled demos and the runs made on the command line (no owner) are shared, read-only.
A reload (the same ``?sid=``) finds the session's own job. Old upload folders are cleaned up,
never one a training still reads. The README's Limits table matches ``musegen.config.Limits``.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import time
from pathlib import Path

import pytest

from musegen import runs
from musegen.config import Limits
from musegen.errors import AccessError
from musegen.sources.uploads import SESSIONS
from musegen.training.jobs import JOB, check_owner, list_jobs, remove_idle_uploads, run_owner, visible_to
from tests import app_helpers as ui
from tests.midi_factory import scale_midi
from tests.training_helpers import tiny_config

pytestmark = pytest.mark.slow  # trains real models or runs real processes: `pytest -m "not slow"` skips it

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "assets" / "models" / "demo-lstm"
ALICE, BOB = "alice0000000000a", "bob000000000000b"


def _run(runs_dir: Path, name: str, owner: str | None, state: str = "finished", model: bool = False) -> Path:
    """A run folder as a worker leaves it (``owner`` None: made on the command line, no job.json)."""
    if model:
        shutil.copytree(DEMO, runs_dir / name, ignore=shutil.ignore_patterns("last.keras"))
        path = runs_dir / name
    else:
        path = runs_dir / name
        path.mkdir(parents=True)
        runs.atomic_write_text(path / runs.CONFIG, tiny_config().to_json())
    runs.write_status(path, state, "epoch 1/2" if state == "running" else "all epochs done")
    if owner is not None:
        runs.atomic_write_json(path / JOB, {"owner": owner, "data": [], "created": time.time()})
    return path


# ------------------------------------------------------------------ library


def test_owners_decide_who_sees_and_who_may_stop_or_delete(tmp_path):
    alice = _run(tmp_path, "alice-run", ALICE)
    bob = _run(tmp_path, "bob-run", BOB, state="running")
    shared = _run(tmp_path, "cli-run", None)
    damaged = _run(tmp_path, "damaged-run", ALICE)
    (damaged / JOB).write_text("{not json")
    assert (run_owner(alice), run_owner(shared), run_owner(damaged)) == (ALICE, "", None)
    assert [visible_to(p, ALICE) for p in (alice, bob, shared, damaged)] == [True, False, True, False]
    check_owner(alice, ALICE)
    for path, session in [(bob, ALICE), (alice, BOB), (shared, ALICE), (alice, "")]:
        with pytest.raises(AccessError, match="only the session that started a training can stop or delete it"):
            check_owner(path, session)
    assert [j.run_id for j in list_jobs(tmp_path, owner=BOB)] == ["bob-run"]


def test_old_upload_folders_go_but_not_in_use_or_kept_ones(tmp_path):
    sessions = tmp_path / SESSIONS
    for sid in ("old0000000000001", "old0000000000002", "old0000000000003", "new0000000000004"):
        (sessions / sid / "data" / "k").mkdir(parents=True)
        (sessions / sid / "data" / "k" / "a.mid").write_bytes(scale_midi())
    (sessions / "not a session id").mkdir()
    two_days_ago = time.time() - 48 * 3600
    for path in sessions.rglob("*"):
        if "new0000000000004" not in str(path):
            os.utime(path, (two_days_ago, two_days_ago))
    # a queued training (this live process wrote its status) still reads session 2's uploads
    queued = _run(tmp_path, "queued-run", ALICE, state="queued")
    runs.atomic_write_json(
        queued / JOB, {"owner": ALICE, "data": [str(sessions / "old0000000000002" / "data" / "k")], "created": 0}
    )
    removed = remove_idle_uploads(tmp_path, keep=["old0000000000003"])
    assert [p.name for p in removed] == ["old0000000000001"]
    assert sorted(p.name for p in sessions.iterdir()) == [
        "new0000000000004",
        "not a session id",
        "old0000000000002",
        "old0000000000003",
    ]
    assert remove_idle_uploads(tmp_path, max_age_h=0.0, keep=[]) != []  # an age of 0 takes every idle one


def test_the_readme_limits_table_matches_the_library():
    section = (ROOT / "README.md").read_text(encoding="utf-8").split("## Limits", 1)[1].split("\n## ", 1)[0]
    rows = {
        m.group(2): m.group(1) for m in re.finditer(r"^\| [^|]+ \| ([\d,]+)[^|]* \| `(MUSEGEN_\w+)` \|$", section, re.M)
    }
    expected = {f"MUSEGEN_{f.name.upper()}": f.default for f in dataclasses.fields(Limits)}
    assert {k: int(v.replace(",", "")) for k, v in rows.items()} == expected


# ------------------------------------------------------------------ pages, two sessions


@pytest.fixture()
def server(tmp_path, monkeypatch) -> Path:
    """Alice's and Bob's runs (with models), a shared command-line run and a run with a damaged job.json."""
    runs_dir = tmp_path / "runs"
    monkeypatch.setenv("MUSEGEN_RUNS_DIR", str(runs_dir))
    monkeypatch.setenv("MUSEGEN_DEMO_DIR", str(tmp_path / "demo"))
    shutil.copytree(DEMO, tmp_path / "demo" / "demo-lstm", ignore=shutil.ignore_patterns("last.keras"))
    _run(runs_dir, "20250101-000000-lstm-alice1", ALICE, model=True)
    _run(runs_dir, "20250101-000000-lstm-bob001", BOB, model=True)
    _run(runs_dir, "20250102-000000-lstm-bob002", BOB, state="running")  # Bob trains right now
    _run(runs_dir, "20250101-000000-lstm-shared", None, model=True)
    damaged = _run(runs_dir, "20250101-000000-lstm-damage", ALICE)  # one broken folder breaks no page
    (damaged / JOB).write_text("{half a file")
    return runs_dir


def _runs_page(sid: str):
    at = ui.app(sid)
    at.switch_page(ui.RUNS).run()
    assert not at.exception
    return at


def test_each_session_sees_its_own_runs_the_shared_ones_and_the_demos(server):
    at = _runs_page(ALICE)
    assert sorted(at.dataframe[0].value["run"]) == [
        "20250101-000000-lstm-alice1",
        "20250101-000000-lstm-shared",
        "demo-lstm",
    ]
    at = _runs_page(BOB)
    assert "20250102-000000-lstm-bob002" in list(at.dataframe[0].value["run"])
    assert "20250101-000000-lstm-alice1" not in list(at.dataframe[0].value["run"])
    at = ui.app(ALICE)
    at.switch_page(ui.GENERATE).run()
    labels = ui.widget(at.selectbox, "Model").options
    assert [label.split(" ")[0] for label in labels] == [
        "20250101-000000-lstm-alice1",
        "demo-lstm",
        "20250101-000000-lstm-shared",
    ]
    assert labels[0].endswith("· yours") and labels[2].endswith("· shared")


def test_only_the_owner_may_delete_or_stop(server):
    at = _runs_page(ALICE)
    detail = ui.widget(at.selectbox, "Run")
    detail.set_value("20250101-000000-lstm-shared").run()
    assert "A shared run made outside the app" in ui.texts(at)
    assert not [b for b in at.button if b.label.startswith(("Yes, delete it", "Stop this training"))]
    detail = ui.widget(at.selectbox, "Run")
    detail.set_value("20250101-000000-lstm-alice1").run()
    ui.widget(at.button, "Yes, delete it").click().run()
    assert not at.exception and not (server / "20250101-000000-lstm-alice1").exists()
    # Bob's runs are untouched, and his running training was never offered to Alice
    assert (server / "20250101-000000-lstm-bob001").is_dir()
    assert runs.read_status(server / "20250102-000000-lstm-bob002")["state"] == "running"
    assert not runs.stop_requested(server / "20250102-000000-lstm-bob002")
    at = _runs_page(BOB)
    ui.widget(at.selectbox, "Run").set_value("20250102-000000-lstm-bob002").run()
    ui.widget(at.button, "Stop this training").click().run()
    assert runs.stop_requested(server / "20250102-000000-lstm-bob002")  # its owner can


def test_a_reload_finds_the_sessions_own_job(server):
    for sid, expected in ((BOB, "20250102-000000-lstm-bob002"), (ALICE, "20250101-000000-lstm-alice1")):
        at = ui.app(sid)  # a new Streamlit session with the same ?sid= in the address
        at.switch_page(ui.TRAIN).run()
        heads = [m.value for m in at.markdown if m.value.startswith("#### ")]
        assert heads and expected in heads[0], heads
        assert at.session_state["sid"] == sid


def test_an_upload_on_the_dataset_page_clears_idle_sessions(tmp_path, monkeypatch):
    monkeypatch.setenv("MUSEGEN_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("MUSEGEN_DEMO_DIR", str(tmp_path / "demo"))
    idle = tmp_path / "runs" / SESSIONS / "idle000000000000" / "data" / "k"
    idle.mkdir(parents=True)
    (idle / "old.mid").write_bytes(scale_midi())
    long_ago = time.time() - 3 * 24 * 3600
    for path in [*idle.parents[:3], idle, idle / "old.mid"]:
        os.utime(path, (long_ago, long_ago))
    at = ui.upload(ui.app(ALICE), [("new.mid", scale_midi())])
    assert not at.exception
    assert sorted(p.name for p in (tmp_path / "runs" / SESSIONS).iterdir()) == [ALICE]
