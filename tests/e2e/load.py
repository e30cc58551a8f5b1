"""Many people on one server at once: the load driver of ``benchmarks/bench_sessions.py`` and
``tests/hardening/test_load.py``.

``generate_at_once`` opens ``n`` real Streamlit sessions on a running app (one headless Chromium, one browser
context each: its own cookies, websocket and Streamlit session), sets each up on the Generate page with its own
random passage and random seed, waits until all are ready, then presses Generate in all of them together (the
burst a shared server meets) and times each from its click to a playable audio clip. Each session reports what
it shows (the seed's label, the result's caption, the audio's media address) so a caller can check that it sees
its own music and nobody else's. ``Memory`` samples the resident memory of a process and its children.
Nothing here imports pytest, Streamlit or TensorFlow.
"""

from __future__ import annotations

import asyncio
import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.e2e.browser import CHROMIUM, CHROMIUM_ARGS, VIEWPORT

LENGTH = 48  # tokens each session generates (one variation)
PAGE = 4096  # bytes of a memory page in /proc/PID/statm


@dataclass
class Shown:
    """What one session did and showed."""

    index: int
    seconds: float = 0.0  # from the click on Generate to a playable audio clip
    seed_label: str = ""  # the seed's label in "Listen to the seed · LABEL · N BPM"
    result: str = ""  # "N new notes from M tokens"
    audio: list[str] = field(default_factory=list)  # the media addresses of the audio players
    errors: list[str] = field(default_factory=list)  # error boxes or exceptions the page showed
    failure: str = ""  # why the session did not get its audio ("" when it did)


def passage(index: int) -> int:
    """The random passage number and random seed session ``index`` picks (each session its own)."""
    return 7 * index + 1


async def _number(page, label: str, value: int) -> None:
    box = page.get_by_label(label, exact=True)
    await box.fill(str(value))
    await box.press("Enter")
    await page.wait_for_timeout(300)


async def _idle(page, timeout_ms: int) -> None:
    await page.wait_for_timeout(300)
    await page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden", timeout=timeout_ms)


async def _set_up(page, url: str, index: int, timeout_ms: int) -> None:
    """The Generate page with the demo model, session ``index``'s passage and seed, 48 tokens, one variation."""
    await page.goto(url)
    await page.get_by_role("heading", name="musegen").wait_for()
    await page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Generate").click()
    await page.get_by_role("heading", name="Generate", exact=True).wait_for()
    await page.get_by_text("trained on bach-chorales").first.wait_for()
    await page.get_by_text("A random passage", exact=True).click()
    await page.get_by_label("Passage number", exact=True).wait_for()
    wanted = {
        "Passage number": passage(index),
        "Length (tokens)": LENGTH,
        "Variations": 1,
        "Random seed": passage(index),
    }
    for _ in range(4):  # on a busy server a rerun may bring back a box's old value: set it again
        for label, value in wanted.items():
            if await page.get_by_label(label, exact=True).input_value() != str(value):
                await _number(page, label, value)
        await _idle(page, timeout_ms)
        values = [await page.get_by_label(label, exact=True).input_value() for label in wanted]
        if values == [str(v) for v in wanted.values()]:
            return
    raise RuntimeError(f"session {index}: the Generate page kept {values}, not {list(wanted.values())}")


async def _read(page, shown: Shown) -> None:
    body = await page.locator("body").inner_text()
    if m := re.search(r"Listen to the seed · (.+?) · [\d.]+ BPM", body):
        shown.seed_label = m.group(1)
    if m := re.search(r"\d+ new notes from \d+ tokens", body):
        shown.result = m.group(0)
    shown.audio = await page.eval_on_selector_all("audio", "els => els.map(a => a.currentSrc || a.src)")
    errors = page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]')
    shown.errors = await errors.all_inner_texts()


AUDIO_READY = (
    "() => [...document.querySelectorAll('audio')].slice(1).some(a => {"
    " if (a.readyState === 0 && !a.dataset.asked) { a.dataset.asked = '1'; a.load(); }"
    " return a.duration > 0 && Number.isFinite(a.duration); })"
)  # the first player is the seed's (in its expander), a second one the result's; load() is asked once: asked
# again at every poll, a clip that takes longer than one poll to arrive (any, on a busy machine) never would


async def _session(browser, url: str, index: int, ready: asyncio.Barrier, timeout_ms: int, shots: Path | None) -> Shown:
    shown = Shown(index)
    context = await browser.new_context(viewport=VIEWPORT)
    page = await context.new_page()
    page.set_default_timeout(timeout_ms)
    try:
        try:
            await _set_up(page, url, index, timeout_ms)
        finally:
            await ready.wait()  # every session presses Generate together, a failed one included
        t0 = time.monotonic()
        await page.get_by_role("button", name="Generate", exact=True).click()
        await page.get_by_role("heading", name="Results").wait_for()
        await page.wait_for_function(AUDIO_READY, timeout=timeout_ms, polling=250)
        shown.seconds = time.monotonic() - t0
        await _idle(page, timeout_ms)
        await _read(page, shown)
    except Exception as exc:  # a failed session is a figure of the run, not the end of it
        shown.failure = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
        try:
            if shots is not None:
                await page.screenshot(path=str(shots / f"session-{index}.png"), full_page=True)
            await _read(page, shown)
        except Exception:
            pass
    finally:
        await context.close()
    return shown


async def _all(url: str, indices: list[int], timeout_ms: int, shots: Path | None) -> list[Shown]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            ready = asyncio.Barrier(len(indices))
            tasks = [_session(browser, url, i, ready, timeout_ms, shots) for i in indices]
            return list(await asyncio.gather(*tasks))
        finally:
            await browser.close()


def generate_at_once(
    url: str, n: int, timeout_s: float = 300.0, first: int = 0, shots: Path | None = None
) -> list[Shown]:
    """``n`` sessions (indices ``first`` ..) each generate and render on ``url`` at once; what each showed
    (a screenshot of each failed session goes to ``shots`` when given)."""
    return asyncio.run(_all(url, list(range(first, first + n)), int(timeout_s * 1000), shots))


# ------------------------------------------------------------------ memory


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` in MB (0 when it is gone)."""
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE / 1e6
    except (OSError, IndexError, ValueError):
        return 0.0


def tree_pids(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    tree, out, todo = _children(), [], [pid]
    while todo:
        out.append(current := todo.pop())
        todo.extend(tree.get(current, []))
    return out


class Memory:
    """Samples, every ``every`` seconds in a thread, the resident memory of ``pid`` and of its process tree."""

    def __init__(self, pid: int, every: float = 0.2):
        self.pid, self.every = pid, every
        self.peak_process = self.peak_tree = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_process = max(self.peak_process, rss_mb(self.pid))
            self.peak_tree = max(self.peak_tree, sum(rss_mb(p) for p in tree_pids(self.pid)))
            self._stop.wait(self.every)

    def __enter__(self) -> Memory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def server_pid(port_url: str) -> int:
    """The pid of the Streamlit server answering at ``port_url`` (its ``streamlit run`` process)."""
    port = port_url.rsplit(":", 1)[1]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"streamlit" in b" ".join(cmd) and port.encode() in cmd and entry.name != str(os.getpid()):
                return int(entry.name)
    raise RuntimeError(f"no streamlit process listens on {port_url}")
