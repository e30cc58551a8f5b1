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

import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from tests.e2e.browser import CHROMIUM, ROOT, VIEWPORT, free_port, launch, start_app, stop_app, wait_healthy

REPEATS = 3
GOAL_S = 3.0

BARE_APP = """import streamlit as st
st.title("musegen")
st.subheader("State of things")
st.write("FluidSynth")
"""


def _one(browser, folder: str, app: Path) -> tuple[float, float | None]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    t0 = time.monotonic()
    server = start_app(app, port, {"MUSEGEN_RUNS_DIR": folder}, stdout=subprocess.DEVNULL)
    try:
        wait_healthy(url, timeout=60, poll=0.05)
        ready = time.monotonic() - t0
        shown = None
        if browser is not None:
            page = browser.new_page(viewport=VIEWPORT)
            page.goto(url)
            page.get_by_role("heading", name="State of things").wait_for(timeout=60_000)
            page.get_by_text("FluidSynth").first.wait_for(timeout=60_000)
            shown = time.monotonic() - t0
            page.close()
        return ready, shown
    finally:
        stop_app(server)


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
            browser = launch(playwright)
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
