"""The real app on a free loopback port, driven by headless Chromium.

Shared by the browser tests (``tests/e2e``), the app-start benchmark (``benchmarks/bench_app.py``)
and the README screenshots (``python -m scripts.screenshots``).

``run_app`` starts ``streamlit run`` headless on a free loopback port with its own runs folder,
waits for ``/_stcore/health`` and, on exit, stops the server and any training worker it left.
``start_app``, ``wait_healthy`` and ``stop_app`` are its parts, for callers that time the start.
``launch`` opens Debian's ``/usr/bin/chromium`` through Playwright; a browser is never downloaded.
``goto``, ``set_number`` and ``idle`` are the page steps every walk through the app repeats;
``start_tiny_wavenet`` and ``wait_for_audio`` are the browser tests' shared train and listen steps.
Nothing here imports pytest, Streamlit or TensorFlow.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1400, "height": 1000}  # a desktop window, the width the app is laid out for
ARTIFACTS = ROOT / "test-artifacts"  # screenshots of failed browser tests


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(
    app_path: Path | str,
    port: int,
    env: Mapping[str, str] | None = None,
    stdout: IO | int = subprocess.DEVNULL,
    cwd: Path = ROOT,
) -> subprocess.Popen:
    """``streamlit run app_path`` headless on ``127.0.0.1:port`` (from ``cwd``), in its own process group.

    ``env`` is set on top of this process's environment; stderr goes where ``stdout`` goes.
    Returns at once: ``wait_healthy`` waits for the server to answer.
    """
    cmd = [sys.executable, "-m", "streamlit", "run", str(app_path), "--server.headless", "true"]
    cmd += ["--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"]
    return subprocess.Popen(
        cmd,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdout=stdout,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_healthy(url: str, server: subprocess.Popen | None = None, timeout: float = 60.0, poll: float = 0.5) -> None:
    """Wait until ``url/_stcore/health`` answers 200, checking every ``poll`` seconds.

    Raises RuntimeError after ``timeout`` seconds, or as soon as ``server`` (when given) exits.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server is not None and server.poll() is not None:
            raise RuntimeError(f"streamlit exited with {server.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(poll)
    raise RuntimeError(f"streamlit did not answer at {url} within {timeout:.0f} s")


def stop_app(server: subprocess.Popen) -> None:
    """Stop a server from ``start_app`` and everything in its process group."""
    os.killpg(server.pid, signal.SIGTERM)
    server.wait(timeout=30)


def stop_workers(runs_dir: Path) -> None:
    """Stop any training worker still running in ``runs_dir`` (our own processes, by pid)."""
    from musegen import runs
    from musegen.training.jobs import active_jobs, job_status

    for job in active_jobs(runs_dir):
        runs.request_stop(job.run_dir)
        deadline = time.monotonic() + 30
        while job_status(job.run_dir).active and time.monotonic() < deadline:
            time.sleep(0.5)
        pid = runs.read_status(job.run_dir).get("pid")
        if job_status(job.run_dir).active and isinstance(pid, int):
            os.kill(pid, signal.SIGKILL)


@contextmanager
def run_app(
    base_dir: Path,
    *,
    demo_dir: Path | None = None,
    extra_env: Mapping[str, str] | None = None,
    app: str = "streamlit_app.py",
    cwd: Path = ROOT,
) -> Iterator[str]:
    """The app on a free port with runs in ``base_dir/runs``; yields its URL.

    Demo models come from ``demo_dir`` (default ``base_dir/demo``). TensorFlow gets one thread
    and stays quiet unless ``extra_env`` says otherwise. The server's output goes to
    ``base_dir/streamlit.log``. On exit the server is stopped, then any training worker left.
    ``cwd``: the source tree the app runs from (another version of the app, for a comparison).
    """
    env = {
        "MUSEGEN_RUNS_DIR": str(base_dir / "runs"),
        "MUSEGEN_DEMO_DIR": str(demo_dir or base_dir / "demo"),
        "MUSEGEN_TF_THREADS": "1",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        **(extra_env or {}),
    }
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with open(base_dir / "streamlit.log", "wb") as log:
        server = start_app(app, port, env, stdout=log, cwd=cwd)
        try:
            wait_healthy(url, server)
            yield url
        finally:
            stop_app(server)
            stop_workers(base_dir / "runs")


def launch(playwright):
    """Debian's headless Chromium through a started Playwright (``sync_playwright()``)."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def goto(page, title: str) -> None:
    """Click a page in the sidebar navigation (keeps the browser session) and wait for its title."""
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=title).click()
    page.get_by_role("heading", name=title, exact=True).wait_for()


def set_number(page, label: str, value: float) -> None:
    """Type ``value`` into the number input labelled ``label`` and let the app take it."""
    box = page.get_by_label(label, exact=True)
    box.fill(str(value))
    box.press("Enter")
    page.wait_for_timeout(300)


def idle(page, settle_ms: int = 300, timeout_ms: int = 120_000) -> None:
    """Wait until the app is not running its script (the 'Running...' indicator is gone)."""
    page.wait_for_timeout(settle_ms)
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden", timeout=timeout_ms)


def start_tiny_wavenet(page, epochs: int, patience: int | None = None) -> None:
    """On the Train page: a tiny WaveNet (8 channels, 5 dilations) for ``epochs`` epochs; start it."""
    set_number(page, "Epochs", epochs)
    if patience is not None:
        set_number(page, "Patience", patience)
    page.get_by_text("Advanced: model size and data split").click()
    set_number(page, "Embedding size", 8)
    set_number(page, "WaveNet channels", 8)
    set_number(page, "WaveNet dilation cycle", 5)
    idle(page)
    page.get_by_role("button", name="Start training").click()


def wait_for_audio(page, timeout_ms: int = 60_000) -> None:
    """Wait until an audio player on the page has loaded a clip of positive, finite duration."""
    page.wait_for_function(
        "() => [...document.querySelectorAll('audio')].some(a => { if (a.readyState === 0) a.load();"
        " return a.duration > 0 && Number.isFinite(a.duration); })",
        timeout=timeout_ms,
    )
