"""Concurrent sessions: 20 people press Generate on one server at once while a training runs beside them.

The real app (``streamlit run`` on 127.0.0.1, the LSTM demo model) is driven by one headless Chromium with one
browser context per person (each its own Streamlit session over its own websocket; ``tests/e2e/load.py``).
A tiny WaveNet training is started as the Train page starts one (a background worker) and runs through the
burst. Every session sets up the Generate page with its own random passage and random seed (48 tokens, one
variation); then all press Generate together and each is timed from its click to a playable audio clip.

Checked: every session gets its audio with no error; each shows the seed the library gives for its own passage
and audio nobody else got; the training finishes all its epochs. Reported: the median and 95th-percentile time
to audio, the peak resident memory of the server process and of the training worker (sampled from /proc every
0.2 s), and the training's wall time against the same training alone. The app runs twice in one call, without
and with the fixes: the app as it was (commit ``MUSEGEN_BENCH_BEFORE``, taken with ``git archive``) and as it
is, on the same machine one after the other; the ratios are printed.
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from tests.e2e.browser import ROOT, run_app

SESSIONS = int(os.environ.get("MUSEGEN_BENCH_SESSIONS", "20"))
BEFORE = os.environ.get("MUSEGEN_BENCH_BEFORE", "3aed17e")  # the app before the fixes of issue 34 point 5
TRAIN_EPOCHS = 4
TRAINER = "trainer000000000"  # the training's owner (a session id)


def _train(runs_dir: Path) -> Path:
    from musegen.training.jobs import start_training
    from tests.training_helpers import tiny_config

    config = tiny_config("wavenet", epochs=TRAIN_EPOCHS, batch_size=16)
    return start_training(config, [], runs_dir, owner=TRAINER, max_pieces=60)


def _wait_training(run_dir: Path, state: str | None = None, timeout: float = 600.0) -> dict:
    """The run's status once it reaches ``state`` (or ends, when None)."""
    from musegen import runs

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = runs.read_status(run_dir)
        if (state is None and status.get("state") not in runs.ACTIVE_STATES) or status.get("state") == state:
            return status
        time.sleep(0.2)
    raise RuntimeError(f"the training {run_dir.name} did not reach {state or 'its end'} within {timeout:.0f} s")


def training_alone(base: Path) -> float:
    """Seconds the background training takes with nobody else on the machine."""
    t0 = time.monotonic()
    run_dir = _train(base / "alone")
    status = _wait_training(run_dir)
    if status.get("state") != "finished":
        raise RuntimeError(f"the training alone ended {status.get('state')}: {status.get('message')}")
    return time.monotonic() - t0


def expected_seeds(n: int) -> list[str]:
    """The seed label each session should show: the library's own, for its passage number."""
    from musegen.generation.compose import Composer
    from tests.e2e.load import passage

    composer = Composer(ROOT / "assets" / "models" / "demo-lstm")
    window = composer.config.data.window
    return [composer.random_seed(passage(i), min(64, window)).label for i in range(n)]


def own_data_problems(shown: list, expected: list[str]) -> list[str]:
    """What sessions showed that was not theirs: another's seed, or a result audio another session got too."""
    problems, seen = [], {}
    for s in shown:
        if s.seed_label != expected[s.index]:
            problems.append(f"session {s.index} shows the seed {s.seed_label!r}, not {expected[s.index]!r}")
        for src in s.audio[1:]:  # the first player is the seed's
            key = src.rsplit("/", 1)[-1]
            if seen.setdefault(key, s.index) != s.index:
                problems.append(f"sessions {seen[key]} and {s.index} show the same audio {key}")
    return problems


def source_before(folder: Path) -> Path | None:
    """The app's tree at ``BEFORE`` in ``folder`` (None where git or the commit is missing)."""
    import subprocess

    folder.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", BEFORE], cwd=ROOT, capture_output=True, check=False)
    if archive.returncode:
        return None
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    return folder


def one_run(base: Path, n: int, source: Path = ROOT) -> dict:
    """The burst on a fresh server running the app from ``source``."""
    from musegen import runs
    from tests.e2e.load import Memory, generate_at_once, server_pid

    base.mkdir(parents=True)
    shutil.copytree(ROOT / "assets" / "models" / "demo-lstm", base / "demo" / "demo-lstm")
    env = {"PYTHONPATH": str(source)}
    with run_app(base, extra_env=env, cwd=source) as url:
        t0 = time.monotonic()
        run_dir = _train(base / "runs")
        _wait_training(run_dir, "running")
        worker = runs.read_status(run_dir)["pid"]
        with Memory(server_pid(url)) as server, Memory(worker) as training:
            shown = generate_at_once(url, n)
            running = runs.read_status(run_dir).get("state") == "running"
            status = _wait_training(run_dir)
        trained_s = time.monotonic() - t0
    times = sorted(s.seconds for s in shown if not s.failure)
    return {
        "shown": shown,
        "failed": [f"session {s.index}: {s.failure or s.errors}" for s in shown if s.failure or s.errors],
        "problems": own_data_problems(shown, expected_seeds(n)),
        "median": statistics.median(times) if times else float("nan"),
        "p95": times[min(len(times) - 1, round(0.95 * (len(times) - 1)))] if times else float("nan"),
        "slowest": times[-1] if times else float("nan"),
        "server_mb": server.peak_process,
        "worker_mb": training.peak_process,
        "training": f"{status.get('state')} ({status.get('message')})",
        "trained_through_burst": running,
        "training_s": trained_s,
    }


def _row(name: str, r: dict, alone: float) -> str:
    ok = n_ok = sum(1 for s in r["shown"] if not s.failure)
    ok = f"{n_ok}/{len(r['shown'])}"
    train = f"{r['training']}, {r['training_s']:.0f} s ({r['training_s'] / alone:.1f}x alone)"
    return (
        f"| {name} | {ok} | {r['median']:.1f} | {r['p95']:.1f} | {r['slowest']:.1f} | {r['server_mb']:,.0f} | "
        f"{r['worker_mb']:,.0f} | {train} | {len(r['problems'])} |"
    )


def main() -> None:
    n = SESSIONS
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        alone = training_alone(base)
        before = source_before(base / "before")
        results = {f"before (commit {BEFORE})": one_run(base / "old", n, before)} if before else {}
        results["now"] = one_run(base / "now", n)
    print(f"{n} sessions press Generate at once (48 tokens, 1 variation, LSTM demo) beside one tiny training")
    print(f"(the training alone: {alone:.0f} s)\n")
    print(
        "| server | sessions with audio | time to audio, median s | p95 s | slowest s | server peak MB "
        "| training worker peak MB | training | sessions seeing another's data |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---|---:|")
    for name, r in results.items():
        print(_row(name, r, alone))
    if len(results) < 2:
        print(f"\n(no commit {BEFORE} to compare with)")
        return
    before, after = results.values()
    print(
        f"\nfixed / before: median {after['median'] / before['median']:.2f}x, "
        f"p95 {after['p95'] / before['p95']:.2f}x, server peak memory {after['server_mb'] / before['server_mb']:.2f}x"
    )
    for name, r in results.items():
        for line in r["failed"] + r["problems"] + ([] if r["trained_through_burst"] else ["training ended before"]):
            print(f"{name}: {line}")


if __name__ == "__main__":
    main()
