"""The real app in a real browser: streamlit run + Debian's Chromium driven by Playwright.

One user's whole journey: upload two chorales and a corrupt file (the corrupt one is reported),
train a tiny model and watch the chart update, reload the browser and find the job again, stop it,
generate, hear audio with a positive duration, download the MIDI. A screenshot goes to
``test-artifacts/`` when a step fails. Never downloads a browser: without ``/usr/bin/chromium``
the test is skipped.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.midi_factory import piece_midi

pytestmark = pytest.mark.e2e

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
ARTIFACTS = ROOT / "test-artifacts"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory) -> Iterator[str]:
    """``streamlit run streamlit_app.py`` on a free loopback port, with its own runs folder."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium); the browser test needs it")
    pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed")
    base = tmp_path_factory.mktemp("e2e")
    port = _free_port()
    env = {
        **os.environ,
        "MUSEGEN_RUNS_DIR": str(base / "runs"),
        "MUSEGEN_DEMO_DIR": str(base / "demo"),
        "MUSEGEN_TF_THREADS": "1",
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }
    cmd = [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.headless", "true"]
    cmd += ["--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"]
    log = open(base / "streamlit.log", "wb")  # noqa: SIM115 (closed below)
    server = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, server)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        log.close()
        _stop_workers(base / "runs")


def _wait_healthy(url: str, server: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"streamlit exited with {server.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError("streamlit did not answer within a minute")


def _stop_workers(runs_dir: Path) -> None:
    """Stop any training worker the test left running (our own processes, by pid)."""
    from musegen import runs
    from musegen.jobs import active_jobs, job_status

    for job in active_jobs(runs_dir):
        runs.request_stop(job.run_dir)
        deadline = time.monotonic() + 30
        while job_status(job.run_dir).active and time.monotonic() < deadline:
            time.sleep(0.5)
        pid = runs.read_status(job.run_dir).get("pid")
        if job_status(job.run_dir).active and isinstance(pid, int):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture()
def page(app_url, request):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
        page = context.new_page()
        page.set_default_timeout(60_000)
        try:
            yield page
        finally:
            report = getattr(request.node, "rep_call", None)
            if report is None or report.failed:
                ARTIFACTS.mkdir(exist_ok=True)
                page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
            context.close()
            browser.close()


def _goto(page, title: str) -> None:
    """Click a page in the sidebar navigation (keeps the browser session) and wait for its title."""
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=title).click()
    page.get_by_role("heading", name=title, exact=True).wait_for()


def _set_number(page, label: str, value: int) -> None:
    box = page.get_by_label(label, exact=True)
    box.fill(str(value))
    box.press("Enter")
    page.wait_for_timeout(300)


def _idle(page) -> None:
    """Wait until the app is not running its script (the 'Running...' indicator is gone)."""
    page.wait_for_timeout(300)
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden", timeout=120_000)


def test_upload_train_stop_generate_listen_download(page, app_url, chorales, tmp_path):
    page.goto(app_url)
    page.get_by_role("heading", name="musegen").wait_for()

    # Dataset: two real chorales and a corrupt file; the corrupt one is reported, the others used.
    _goto(page, "Dataset")
    page.get_by_text("Upload MIDI files").click()
    files = [
        {"name": "chorale-a.mid", "mimeType": "audio/midi", "buffer": piece_midi(chorales[0])},
        {"name": "chorale-b.mid", "mimeType": "audio/midi", "buffer": piece_midi(chorales[1])},
        {"name": "broken.mid", "mimeType": "audio/midi", "buffer": b"MThd\x00\x00\x00\x06garbage"},
    ]
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(files)
    warning = page.locator('[data-testid="stAlertContentWarning"]')
    warning.wait_for()
    assert "2 of 3 files are used" in warning.inner_text()
    assert "broken.mid" in warning.inner_text()
    page.get_by_text("Token and window settings").click()
    _set_number(page, "Window length (tokens)", 32)
    _idle(page)
    page.get_by_text("Pieces").first.wait_for()

    # Train: a tiny WaveNet for many epochs; watch the chart update, then stop it.
    _goto(page, "Train")
    page.get_by_text("chorale-a.mid").first.wait_for()  # the uploaded dataset is the one used
    _set_number(page, "Epochs", 500)
    page.get_by_text("Advanced: model size and data split").click()
    _set_number(page, "Embedding size", 8)
    _set_number(page, "WaveNet channels", 8)
    _set_number(page, "WaveNet dilation cycle", 5)
    _idle(page)
    page.get_by_role("button", name="Start training").click()
    progress = page.locator('[data-testid="stProgress"]')
    page.get_by_text(re.compile(r"Epoch \d+/500")).first.wait_for(timeout=120_000)
    chart = page.locator('[data-testid="stVegaLiteChart"]')
    chart.first.wait_for()
    first = progress.first.inner_text()
    page.wait_for_function(
        "(before) => { const p = document.querySelector('[data-testid=\"stProgress\"]');"
        " return p && p.innerText !== before && /Epoch ([3-9]|\\d\\d)/.test(p.innerText); }",
        arg=first,
        timeout=120_000,
    )
    # The fragment re-renders every 2 s and may swap the chart element out for a moment: wait, don't count.
    chart.first.wait_for(timeout=30_000)
    # A browser reload (a new Streamlit session) finds the running job again through ?sid= in the URL.
    assert "sid=" in page.url
    run_heading = page.get_by_role("heading", name=re.compile(r"wavenet · running"))
    run_id = run_heading.inner_text().split(" · ")[0].split()[-1]
    page.reload()
    page.get_by_role("heading", name=re.compile(re.escape(run_id) + r" · wavenet · running")).wait_for()
    page.get_by_role("button", name="Stop", exact=True).click()
    page.get_by_text("stopped").first.wait_for(timeout=60_000)

    # Generate with the stopped run (the best model was kept): audio plays, MIDI downloads.
    _goto(page, "Generate")
    page.get_by_text("trained on chorale-a.mid").first.wait_for()
    _set_number(page, "Length (tokens)", 48)
    _set_number(page, "Variations", 1)
    _idle(page)
    page.get_by_role("button", name="Generate").click()
    page.get_by_role("heading", name="Results").wait_for(timeout=120_000)
    page.wait_for_function(
        "() => [...document.querySelectorAll('audio')].some(a => { if (a.readyState === 0) a.load();"
        " return a.duration > 0 && Number.isFinite(a.duration); })",
        timeout=60_000,
    )
    durations = page.eval_on_selector_all("audio", "els => els.map(a => a.duration)")
    assert max(durations) > 0
    with page.expect_download() as download:
        page.get_by_role("button", name="Download MIDI").first.click()
    path = tmp_path / "generated.mid"
    download.value.save_as(path)
    assert path.read_bytes()[:4] == b"MThd"
    assert download.value.suggested_filename.endswith(".mid")
