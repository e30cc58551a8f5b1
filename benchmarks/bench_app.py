"""App start: seconds from ``streamlit run`` to a home page a person can read (goal: under 3 s).

Cold start = a new server process each time (Python, Streamlit and musegen imported afresh;
the OS file cache is warm, as on any second start of a machine). The clock starts when the
server process is launched and stops when headless Chromium shows the home page's "State of
things" section, which needs the FluidSynth check, the runs scan and the demo-model scan.
The browser itself is launched before the clock starts. Without /usr/bin/chromium only the
server start is measured. For reference, the same is measured, interleaved, for a bare
four-line Streamlit app: the difference is what musegen adds to Streamlit's own start.
"""

from __future__ import annotations

import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
REPEATS = 3
GOAL_S = 3.0


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


BARE_APP = """import streamlit as st
st.title("musegen")
st.subheader("State of things")
st.write("FluidSynth")
"""


def _start(port: int, folder: str, app: Path) -> subprocess.Popen:
    env = {**os.environ, "MUSEGEN_RUNS_DIR": folder}
    cmd = [sys.executable, "-m", "streamlit", "run", str(app), "--server.headless", "true"]
    cmd += ["--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"]
    out = subprocess.DEVNULL
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=out, start_new_session=True)


def _healthy(url: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the server did not start within 60 s")


def _one(browser, folder: str, app: Path) -> tuple[float, float | None]:
    port = _port()
    url = f"http://127.0.0.1:{port}"
    t0 = time.monotonic()
    server = _start(port, folder, app)
    try:
        _healthy(url, t0 + 60)
        ready = time.monotonic() - t0
        shown = None
        if browser is not None:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url)
            page.get_by_role("heading", name="State of things").wait_for(timeout=60_000)
            page.get_by_text("FluidSynth").first.wait_for(timeout=60_000)
            shown = time.monotonic() - t0
            page.close()
        return ready, shown
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def main() -> None:
    apps = {"musegen": ROOT / "streamlit_app.py"}
    results: dict[str, list[tuple[float, float | None]]] = {"musegen": [], "bare Streamlit app": []}
    with tempfile.TemporaryDirectory() as folder:
        apps["bare Streamlit app"] = Path(folder) / "bare_app.py"
        apps["bare Streamlit app"].write_text(BARE_APP)
        browser, playwright = None, None
        if Path(CHROMIUM).exists():
            from playwright.sync_api import sync_playwright

            playwright = sync_playwright().start()
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        else:
            print(f"({CHROMIUM} not found: measuring the server start only)\n")
        try:
            for _ in range(REPEATS):
                for name, app in apps.items():
                    results[name].append(_one(browser, folder, app))
        finally:
            if browser is not None:
                browser.close()
                playwright.stop()
    print("| cold start (new server process) | server answers, median s | page readable, median s | runs |")
    print("|---|---:|---:|---|")
    for name, rows in results.items():
        ready = statistics.median(r for r, _ in rows)
        shown = [s for _, s in rows if s is not None]
        median = f"{statistics.median(shown):.2f}" if shown else "–"
        print(f"| {name} | {ready:.2f} | {median} | {', '.join(f'{s:.2f}' for s in shown)} |")
    shown = [s for _, s in results["musegen"] if s is not None]
    if shown:
        verdict = "meets" if statistics.median(shown) < GOAL_S else "MISSES"
        print(f"\nThe home page {verdict} the goal of {GOAL_S:.0f} s on a cold start.")


if __name__ == "__main__":
    main()
