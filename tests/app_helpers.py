"""Small AppTest helpers shared by the page tests (the app with its own folders: the ``folders`` fixture)."""

from __future__ import annotations

import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "streamlit_app.py")
TIMEOUT = 240  # seconds per script run: generous on a shared 2-core machine
DATASET, TRAIN, GENERATE, RUNS = "pages/1_Dataset.py", "pages/2_Train.py", "pages/3_Generate.py", "pages/4_Runs.py"


def app(sid: str | None = None) -> AppTest:
    """The app after its first run; ``sid`` opens it as that browser session (as a reload with ?sid= does)."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    if sid:
        at.query_params["sid"] = sid
    at.run()
    assert not at.exception, at.exception
    return at


def widget(items, label: str):
    """The first widget whose label starts with ``label``."""
    return next(w for w in items if w.label.startswith(label))


def texts(at: AppTest) -> str:
    """Every message on the page, one per line (markdown, captions and alerts)."""
    kinds = (at.markdown, at.caption, at.info, at.error, at.warning, at.success)
    return "\n".join(str(e.value) for kind in kinds for e in kind)


def upload(at: AppTest, files: list[tuple[str, bytes]]) -> AppTest:
    """Choose "Upload MIDI files" on the Dataset page and upload ``files`` (name, bytes)."""
    at.switch_page(DATASET).run()
    widget(at.radio, "Source").set_value("Upload MIDI files").run()
    kinds = {".zip": "application/zip"}
    at.file_uploader[0].set_value([(n, d, kinds.get(Path(n).suffix, "audio/midi")) for n, d in files]).run()
    return at


def wait_for_training(at: AppTest, timeout: float = 300) -> str:
    """Re-run the Train page until its job ends; its final state (finished, stopped or failed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        at.run()
        heads = [m.value for m in at.markdown if m.value.startswith("#### ")]
        for state in ("finished", "stopped", "failed"):
            if heads and f"**{state}**" in heads[0]:
                return state
        time.sleep(2)
    raise AssertionError(f"the training did not end in {timeout} s: {texts(at)[-2000:]}")
