"""Background training jobs: worker processes, the queue, stop, failures, status and progress."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from musegen import runs
from musegen.config import Limits, RunConfig
from musegen.errors import ConfigError
from musegen.training.jobs import active_jobs, job_status, list_jobs, start_training
from tests.training_helpers import tiny_config

pytestmark = pytest.mark.slow  # trains real models or runs real processes: `pytest -m "not slow"` skips it

WAIT_S = 240  # generous: the machine is shared


def _wait(run_dir: Path, done, timeout: float = WAIT_S):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = job_status(run_dir)
        if done(status):
            return status
        time.sleep(0.3)
    log = (run_dir / "worker.log").read_text(errors="replace")
    raise AssertionError(f"job {run_dir.name} stuck in {job_status(run_dir).state}; worker log:\n{log[-3000:]}")


def _busy_slot(runs_dir: Path) -> Path:
    """A run that reads as 'running' (this test process is alive): it takes a training slot."""
    path = runs_dir / "someone-elses-training"
    path.mkdir(parents=True)
    runs.atomic_write_text(path / runs.CONFIG, RunConfig().to_json())
    runs.write_status(path, "running", "epoch 1/20")
    return path


def test_a_full_slot_queues_jobs_first_come_first_served_and_stop_ends_them(tmp_path, monkeypatch):
    monkeypatch.setenv("MUSEGEN_MAX_CONCURRENT_TRAININGS", "1")
    runs_dir = tmp_path / "runs"
    _busy_slot(runs_dir)
    first = start_training(tiny_config(), [], runs_dir, owner="session-one")
    second = start_training(tiny_config("lstm"), [], runs_dir, owner="session-two")
    a = _wait(first, lambda s: s.message.startswith("waiting for a free slot"))
    b = _wait(second, lambda s: s.message.startswith("waiting for a free slot") and "ahead" in s.message)
    assert (a.state, a.queue_position, a.running, a.limit) == ("queued", 1, 1, 1)
    assert (b.state, b.queue_position) == ("queued", 2)
    assert [j.run_id for j in active_jobs(runs_dir, owner="session-two")] == [second.name]
    assert {j.run_id for j in active_jobs(runs_dir)} == {first.name, second.name, "someone-elses-training"}
    for run_dir in (second, first):
        runs.request_stop(run_dir)
        ended = _wait(run_dir, lambda s: not s.active, timeout=30)
        assert (ended.state, ended.message) == ("stopped", "stopped before training began")
    assert not (first / "model.keras").exists()


def test_worker_trains_in_the_background_and_reports_progress(tmp_path):
    config = tiny_config(epochs=1)
    run_dir = start_training(config, [], tmp_path / "runs", owner="me0000000", max_pieces=6)
    assert json_job(run_dir)["owner"] == "me0000000"
    assert job_status(run_dir).state in ("queued", "running")  # start_training returned at once
    status = _wait(run_dir, lambda s: not s.active)
    assert status.state == "finished", status.message
    assert status.progress == 1.0 and status.epoch == 1 and status.batches > 0
    assert (run_dir / "model.keras").is_file() and (run_dir / "vocab.json").is_file()
    assert status.metrics is not None and status.metrics.val_pieces >= 1
    pieces = json_job(run_dir, "pieces.json")
    assert len(pieces["train"]) + len(pieces["val"]) == 6
    assert [j.run_id for j in list_jobs(tmp_path / "runs", owner="me0000000")] == [run_dir.name]
    assert list_jobs(tmp_path / "runs", owner="someone-else") == []


def test_unusable_data_fails_the_job_with_the_reason(tmp_path):
    bad = tmp_path / "data"
    bad.mkdir()
    (bad / "broken.mid").write_bytes(b"<html>not music</html>")
    run_dir = start_training(tiny_config(), [bad], tmp_path / "runs")
    status = _wait(run_dir, lambda s: not s.active)
    assert status.state == "failed"
    assert "No usable MIDI file" in status.message and "HTML" in status.message


def test_a_dead_worker_reads_as_failed(tmp_path):
    run_dir = tmp_path / "runs" / "r"
    run_dir.mkdir(parents=True)
    runs.atomic_write_text(run_dir / runs.CONFIG, tiny_config().to_json())
    runs.write_status(run_dir, "queued", "waiting")  # as if a worker wrote this and then died
    status = runs.read_status(run_dir)
    runs.atomic_write_json(run_dir / runs.STATUS, {**status, "pid": _dead_pid()})
    assert job_status(run_dir).state == "failed"
    assert "worker ended" in job_status(run_dir).message


def test_bad_requests_are_refused_before_anything_starts(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        start_training(tiny_config(), [tmp_path / "missing.mid"], tmp_path / "runs")
    with pytest.raises(ConfigError, match="max_pieces"):
        start_training(tiny_config(), [], tmp_path / "runs", max_pieces=0)
    with pytest.raises(ConfigError, match="window"):
        start_training(RunConfig.from_dict({"data": {"window": 1}}), [], tmp_path / "runs")
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_progress_and_eta_come_from_the_history(tmp_path):
    run_dir = tmp_path / "r"
    run_dir.mkdir()
    config = tiny_config(epochs=4)
    runs.atomic_write_text(run_dir / runs.CONFIG, config.to_json())
    runs.write_status(run_dir, "running", "epoch 2/4")
    batches = [
        {"epoch": e, "batch": b, "loss": 3.0, "elapsed_s": 1.0 * ((e - 1) * 5 + b)} for e in (1, 2) for b in range(1, 6)
    ]
    history = {"epochs": [{"epoch": 1, "loss": 3.0}], "batches": batches[:8], "batches_per_epoch": 5}
    runs.atomic_write_json(run_dir / runs.HISTORY, history)
    status = job_status(run_dir, Limits())
    assert (status.epoch, status.batch, status.batches) == (2, 3, 5)
    assert status.progress == pytest.approx(8 / 20)
    assert status.eta_s == pytest.approx(12.0)  # one second per batch, 12 batches left


def json_job(run_dir: Path, name: str = "job.json") -> dict:
    import json

    return json.loads((run_dir / name).read_text())


def _dead_pid() -> int:
    """A pid that no process has: a child that already exited."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


@pytest.mark.parametrize(("value", "expected"), [(None, 10), ("0", 0), ("19", 19), ("20", 10)])
def test_a_training_worker_yields_the_cpu_to_the_pages(value, expected):
    """A worker lowers its own priority (MUSEGEN_TRAINING_NICENESS, default 10): a busy server serves pages first."""
    import os
    import sys

    env = {k: v for k, v in os.environ.items() if k != "MUSEGEN_TRAINING_NICENESS"}
    if value is not None:
        env["MUSEGEN_TRAINING_NICENESS"] = value
    code = (
        "import os; from musegen.training.worker import yield_cpu; "
        "base = os.nice(0); yield_cpu(); print(os.nice(0) - base)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60, check=True)
    assert int(done.stdout) == expected
