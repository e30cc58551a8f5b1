"""Multi-worker training for real: two ``python -m musegen train --distribute multiworker`` processes on
127.0.0.1, each with its own TF_CONFIG, on the built-in chorales with a tiny model."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from musegen import runs
from tests.cli_runner import run_musegen

ROOT = Path(__file__).parents[2]
# the tiny model of tests/training_helpers.py, without dropout or fill-in examples so runs compare exactly
TINY = [
    *("--window", "32", "--stride", "16", "--val-fraction", "0.2", "--fim-rate", "0", "--lr", "3e-3"),
    *("--dropout", "0", "--patience", "0", "--seed", "0"),
    *("--embed-dim", "16", "--channels", "16", "--dilation-cycle", "5", "--stacks", "1"),
]


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _env(tf_config: dict | None = None) -> dict[str, str]:
    env = {**os.environ, "MUSEGEN_TF_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    env.pop("TF_CONFIG", None)
    if tf_config is not None:
        env["TF_CONFIG"] = json.dumps(tf_config)
    return env


class Cluster:
    """Two workers of one run; worker 0 is the chief. ``runs_dirs[i]`` is where worker i is told to write."""

    def __init__(self, tmp: Path, args: list[str], runs_dirs: list[Path] | None = None, *, cli: list[str] = ()):
        hosts = [f"127.0.0.1:{p}" for p in _free_ports(2)]
        self.tmp, self.runs_dirs = tmp, runs_dirs or [tmp / "chief", tmp / "worker"]
        self.procs: list[subprocess.Popen] = []
        for i in range(2):
            out, err = (tmp / f"out{i}.txt").open("w"), (tmp / f"err{i}.txt").open("w")
            command = [sys.executable, "-m", "musegen", "train", "--distribute", "multiworker", *cli]
            if "--resume" not in cli:
                command += ["--runs-dir", str(self.runs_dirs[i]), "--name", "mw", *TINY]
            tf_config = {"cluster": {"worker": hosts}, "task": {"type": "worker", "index": i}}
            self.procs.append(
                subprocess.Popen([*command, *args], stdout=out, stderr=err, cwd=ROOT, env=_env(tf_config))
            )

    def out(self, i: int) -> str:
        return (self.tmp / f"out{i}.txt").read_text()

    def err(self, i: int) -> str:
        return (self.tmp / f"err{i}.txt").read_text()

    def wait(self, timeout: float) -> list[int]:
        deadline = time.monotonic() + timeout
        try:
            return [p.wait(timeout=max(1.0, deadline - time.monotonic())) for p in self.procs]
        finally:
            self.kill()

    def wait_for(self, i: int, text: str, timeout: float = 240) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.out(i):
            assert all(p.poll() is None for p in self.procs), self.err(0)[-2000:] + self.err(1)[-2000:]
            assert time.monotonic() < deadline, f"no {text!r} in worker {i}'s output: {self.out(i)}"
            time.sleep(0.2)

    def kill(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()


def _epoch_losses(run_dir: Path) -> list[float]:
    return [e.loss for e in runs.read_history(run_dir).epochs]


@pytest.mark.slow
@pytest.mark.isolated
def test_two_workers_train_like_one_process_and_only_the_chief_writes(tmp_path):
    cluster = Cluster(tmp_path, ["--max-pieces", "8", "--epochs", "2", "--batch-size", "8"])
    codes = cluster.wait(timeout=400)
    assert codes == [0, 0], cluster.err(0)[-3000:] + cluster.err(1)[-3000:]
    chief_run = tmp_path / "chief" / "mw"
    files = {p.name for p in chief_run.iterdir()}
    assert {"config.json", "vocab.json", "data.npz", "history.json", "model.keras", "last.keras"} <= files
    assert "metrics.json" in files  # the chief evaluated the best model
    assert runs.load_run(chief_run).status == "finished"
    assert not (tmp_path / "worker").exists()  # the other worker never made, let alone wrote, its run folder
    assert "the chief writes the run folder" in cluster.out(1) and "finished: all epochs done" in cluster.out(1)
    history = runs.read_history(chief_run)
    assert (history.replicas, history.global_batch) == (2, 16)  # batch_size is per replica
    losses = _epoch_losses(chief_run)
    assert len(losses) == 2 and losses[1] < losses[0]

    # one process, the same global batch of 16 and the same seeds (Keras' own fit)
    one = ["--runs-dir", str(tmp_path / "single"), "--name", "one", "--max-pieces", "8", "--epochs", "2"]
    single = run_musegen("train", *one, *TINY, "--batch-size", "16", "--no-eval", cwd=ROOT, env=_env())
    assert single.returncode == 0, single.stderr[-3000:]
    alone = runs.read_history(tmp_path / "single" / "one")
    # measured: relative 2e-6 after one epoch, 2e-4 after two (float sums in another order, and the loss of
    # a batch is the mean of the two replicas' means, which differs a little when their padding differs)
    for two, one in zip(history.epochs, alone.epochs, strict=True):
        assert two.loss == pytest.approx(one.loss, rel=2e-3)
        assert two.val_loss == pytest.approx(one.val_loss, rel=2e-3)


@pytest.mark.slow
@pytest.mark.isolated
def test_a_killed_worker_stops_the_other_with_a_clear_message_and_the_run_resumes(tmp_path):
    cluster = Cluster(tmp_path, ["--max-pieces", "8", "--epochs", "200", "--batch-size", "8", "--no-eval"])
    cluster.wait_for(0, "epoch 1/200")
    cluster.procs[1].send_signal(signal.SIGKILL)
    t0 = time.monotonic()
    code = cluster.procs[0].wait(timeout=120)  # measured: about 2 s (the connection resets)
    waited = time.monotonic() - t0
    cluster.kill()
    err = cluster.err(0)
    assert code == 2 and waited < 90, err[-3000:]
    assert "error: worker 1 stopped responding" in err and "resume it when every worker is up" in err, err[-3000:]
    assert "Traceback" not in err
    chief_run = tmp_path / "chief" / "mw"
    status = runs.read_status(chief_run)
    assert status["state"] == "failed" and "worker 1 stopped responding" in status["message"]
    done = runs.read_history(chief_run).epochs_done
    assert done >= 1

    # resumed by both workers, which read the chief's folder (shared storage); the chief alone writes
    (tmp_path / "again").mkdir()
    again = Cluster(tmp_path / "again", [], cli=["--resume", str(chief_run), "--epochs", str(done + 1), "--no-eval"])
    codes = again.wait(timeout=300)
    assert codes == [0, 0], again.err(0)[-3000:] + again.err(1)[-3000:]
    assert runs.load_run(chief_run).status == "finished"
    assert runs.read_history(chief_run).epochs_done == done + 1


@pytest.mark.slow
@pytest.mark.isolated
def test_stop_reaches_every_worker_within_one_batch(tmp_path):
    cluster = Cluster(tmp_path, ["--max-pieces", "8", "--epochs", "200", "--batch-size", "8", "--no-eval"])
    cluster.wait_for(0, "epoch 1/200")
    runs.request_stop(tmp_path / "chief" / "mw")  # the chief sees it; worker 1 has no run folder at all
    codes = cluster.wait(timeout=120)
    assert codes == [0, 0], cluster.err(0)[-3000:] + cluster.err(1)[-3000:]
    for i in range(2):
        assert "stopped: stopped on request" in cluster.out(i)
    chief_run = tmp_path / "chief" / "mw"
    assert runs.load_run(chief_run).status == "stopped"
    history = runs.read_history(chief_run)
    assert history.epochs[-1].partial or history.epochs_done < 200
    # both left at the same batch: their last epoch lines (all-reduced logs) are the same
    last = [[line for line in cluster.out(i).splitlines() if line.startswith("epoch ")][-1] for i in range(2)]
    assert last[0].split("  ")[:3] == last[1].split("  ")[:3]


# TensorFlow's own words when a peer died: a killed process, then a frozen one (both seen on 127.0.0.1)
RESET = (
    "Graph execution error:\n\nDetected at node CollectiveReduceV2 ...\nrecvmsg:Connection reset by peer\n"
    "Additional GRPC error information from remote target /job:worker/replica:0/task:1 while calling "
    "/tensorflow.WorkerService/RecvBuf"
)
SILENT = (
    "Graph execution error:\n\nError reported from /job:worker/task:1: The following tasks are unhealthy "
    "(stopped sending heartbeats):\n/job:worker/replica:0/task:1\nThe tasks have crashed."
)


@pytest.mark.parametrize("text", [RESET, SILENT], ids=["killed", "frozen"])
def test_a_dead_peer_reads_as_one_clear_sentence(text, monkeypatch):
    import tensorflow as tf

    from musegen.training.steps import is_peer_error, peer_error

    monkeypatch.setenv(
        "TF_CONFIG", json.dumps({"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 0}})
    )
    exc = tf.errors.UnavailableError(None, None, text)
    assert is_peer_error(exc)
    message = str(peer_error(exc, {"epoch": 3, "batch": 13, "what": "a training step"}))
    assert message.startswith("worker 1 stopped responding (UnavailableError: ")
    assert "the process is gone" in message or "heartbeats" in message
    assert message.endswith(
        "during a training step; the run stopped at epoch 3, batch 13; resume it when every worker is up."
    )
    assert not is_peer_error(tf.errors.InvalidArgumentError(None, None, "Incompatible shapes"))


def test_only_worker_0_or_the_chief_task_is_the_chief(monkeypatch):
    from musegen.training.distribute import is_chief_task

    def config(kind: str, index: int, chief: bool = False) -> str:
        cluster = {"worker": ["a:1", "b:2"], **({"chief": ["c:3"]} if chief else {})}
        return json.dumps({"cluster": cluster, "task": {"type": kind, "index": index}})

    monkeypatch.setenv("TF_CONFIG", config("worker", 1))
    assert not is_chief_task("multiworker") and is_chief_task("mirrored")
    monkeypatch.setenv("TF_CONFIG", config("worker", 0))
    assert is_chief_task("multiworker")
    monkeypatch.setenv("TF_CONFIG", config("worker", 0, chief=True))
    assert not is_chief_task("multiworker")
    monkeypatch.setenv("TF_CONFIG", config("chief", 0, chief=True))
    assert is_chief_task("multiworker")
