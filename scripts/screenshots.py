"""Take the README's screenshots of every page at a desktop width (1400 px) with headless Chromium.

    python -m scripts.screenshots [--out docs] [--demo-dir assets/models] [--minutes 2] [--only infill]

Starts ``streamlit run`` on a free loopback port with a fresh runs folder, walks through the
app as a person would (built-in dataset, a small WaveNet trained for ``--minutes``, music
generated from it, then a span of a seed filled in anew by a demo model), and saves
``screenshot-<page>.png`` files, palette-compressed to stay small.
Uses Debian's ``/usr/bin/chromium``; never downloads a browser. Run it from the repository root:
the server and browser helpers come from ``tests/e2e/browser.py``.
"""

from __future__ import annotations

import argparse
import io
import re
import shutil
import sys
import tempfile
from pathlib import Path

from musegen.tf_setup import default_threads
from tests.e2e.browser import ROOT, VIEWPORT, goto, idle, launch, run_app, set_number

WIDTH, HEIGHT = VIEWPORT["width"], VIEWPORT["height"]


def _save(page, out: Path, name: str, full: bool = True) -> None:
    """A PNG of the page, quantized to 256 colours (text and charts stay crisp, files stay small)."""
    from PIL import Image

    page.wait_for_timeout(1500)  # let charts finish drawing
    if full:  # Streamlit scrolls inside its main block: grow the window to the content instead
        tall = page.evaluate("document.querySelector('[data-testid=\"stMainBlockContainer\"]').scrollHeight")
        page.set_viewport_size({"width": WIDTH, "height": max(HEIGHT, int(tall) + 40)})
        page.wait_for_timeout(1500)
    png = page.screenshot()
    page.set_viewport_size({"width": WIDTH, "height": HEIGHT})
    image = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    path = out / f"screenshot-{name}.png"
    image.save(path, optimize=True)
    print(f"{path}: {image.size[0]}x{image.size[1]}, {path.stat().st_size / 1024:.0f} KB")


def _idle(page) -> None:
    idle(page, settle_ms=400, timeout_ms=180_000)


def _goto(page, title: str) -> None:
    goto(page, title)
    _idle(page)


def _number(page, label: str, value: float) -> None:
    set_number(page, label, value)
    _idle(page)


def walk(page, url: str, out: Path, minutes: float) -> None:
    page.goto(url)
    page.get_by_role("heading", name="State of things").wait_for()
    _idle(page)
    _goto(page, "Dataset")
    page.get_by_text("Listen to a piece").wait_for()
    page.locator("audio").first.wait_for()
    _save(page, out, "dataset")

    _goto(page, "Train")
    _number(page, "Epochs", 8)
    _number(page, "Time limit (min)", minutes)
    page.get_by_role("button", name="Start training").click()
    page.get_by_text(re.compile(r"Epoch [2-9]/8")).first.wait_for(timeout=600_000)
    page.wait_for_timeout(3000)
    _save(page, out, "train")
    page.get_by_text(re.compile(r"\*?\*?(finished|stopped)")).first.wait_for(timeout=900_000)
    page.get_by_text("n-gram baseline").first.wait_for(timeout=300_000)
    _idle(page)
    _save(page, out, "train-finished")

    _goto(page, "Generate")
    _number(page, "Length (tokens)", 320)
    page.get_by_role("button", name="Generate").click()
    page.get_by_role("heading", name="Results").wait_for(timeout=300_000)
    _idle(page)
    _save(page, out, "generate")

    _goto(page, "Runs")
    _save(page, out, "runs")
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Home").click()
    page.get_by_role("heading", name="State of things").wait_for()
    _idle(page)
    page.get_by_role("heading", name="Play a demo").wait_for()
    _idle(page)
    play = page.get_by_role("button", name="Play a demo")
    if play.count():
        play.click()
        page.locator("audio").first.wait_for(timeout=120_000)
        _idle(page)
    _save(page, out, "home")


def steer(page, url: str, out: Path) -> None:
    """The Generate page filling in a span of a seed with the first bundled demo model."""
    page.goto(url)
    page.get_by_role("heading", name="State of things").wait_for()
    _idle(page)
    _goto(page, "Generate")
    page.get_by_text("Fill in a passage").first.click()
    _idle(page)
    page.get_by_role("button", name="Fill in", exact=True).click()
    page.get_by_role("heading", name="Results").wait_for(timeout=300_000)
    _idle(page)
    _save(page, out, "infill")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    parser.add_argument("--demo-dir", type=Path, default=ROOT / "assets" / "models")
    parser.add_argument("--minutes", type=float, default=2.0, help="time limit of the training shown")
    parser.add_argument("--only", choices=["infill"], help="take only this picture (no training)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    threads = {"MUSEGEN_TF_THREADS": str(default_threads())}  # the app's own default, not the tests' one thread
    with (
        tempfile.TemporaryDirectory() as tmp,
        run_app(Path(tmp), demo_dir=args.demo_dir.resolve(), extra_env=threads) as url,
        sync_playwright() as p,
    ):
        browser = launch(p)
        page = browser.new_page(viewport=VIEWPORT)
        page.set_default_timeout(120_000)
        try:
            if args.only != "infill":
                walk(page, url, args.out, args.minutes)
            steer(page, url, args.out)
        except Exception:
            failure = Path(tmp).parent / "musegen-screenshot-failure"
            page.screenshot(path=f"{failure}.png", full_page=True)
            shutil.copyfile(Path(tmp) / "streamlit.log", f"{failure}.log")
            print(f"failed: the page is in {failure}.png, the server's output in {failure}.log", file=sys.stderr)
            raise
        finally:
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
