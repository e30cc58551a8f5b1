"""Three people on one server, in three browser contexts (separate cookies and sessions).

Alice and Bob each upload their own chorales and train at the same time; neither sees the
other's run, a reload finds each one's own job, and each stops only their own. Meanwhile
Carol, who only generates, opens the app and gets music from a bundled demo model. The
timings are printed (``-s``) for BENCHMARKS.md; nothing here asserts on speed.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.browser import (
    ARTIFACTS,
    ROOT,
    VIEWPORT,
    goto,
    idle,
    launch,
    run_app,
    set_number,
    start_tiny_wavenet,
    wait_for_audio,
)
from tests.midi_factory import piece_midi

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.isolated]

DEMO = ROOT / "assets" / "models" / "demo-lstm"


@pytest.fixture(scope="module")
def server(chromium, tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """``streamlit run`` on a free port with its own runs folder and the LSTM demo model."""
    base = tmp_path_factory.mktemp("multiuser")
    shutil.copytree(DEMO, base / "demo" / "demo-lstm", ignore=shutil.ignore_patterns("last.keras"))
    with run_app(base) as url:
        yield url, base / "runs"


def _upload_and_train(page, url: str, files: list[tuple[str, bytes]]) -> None:
    page.goto(url)
    page.get_by_role("heading", name="musegen").wait_for()
    goto(page, "Dataset")
    page.get_by_text("Upload MIDI files").click()
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        [{"name": n, "mimeType": "audio/midi", "buffer": d} for n, d in files]
    )
    page.get_by_text(f"All {len(files)} files are used.").wait_for()
    page.get_by_text("Token and window settings").click()
    set_number(page, "Window length (tokens)", 32)
    idle(page)
    goto(page, "Train")
    page.get_by_text(files[0][0]).first.wait_for()  # this session's dataset
    start_tiny_wavenet(page, epochs=500, patience=0)  # no early stop: it trains until its owner stops it


def _running_run_id(page) -> str:
    heading = page.get_by_role("heading", name=re.compile(r"wavenet · running"))
    heading.wait_for(timeout=180_000)
    page.get_by_text(re.compile(r"Epoch \d+/500")).first.wait_for(timeout=180_000)
    return heading.inner_text().split(" · ")[0].split()[-1]


def _runs_listed(page) -> list[str]:
    """The run ids the Runs page offers in its Details picker."""
    goto(page, "Runs")
    page.get_by_role("heading", name="Details").wait_for()
    box = page.get_by_label("Run", exact=True)
    box.click()
    options = page.get_by_role("option")
    options.first.wait_for()
    listed = [o.inner_text().strip() for o in options.all()]
    box.press("Escape")
    return listed


def test_two_trainings_and_a_listener_do_not_meet(server, chorales):
    from playwright.sync_api import sync_playwright

    url, runs_dir = server
    alice_files = [("alice-1.mid", piece_midi(chorales[0])), ("alice-2.mid", piece_midi(chorales[1]))]
    bob_files = [("bob-1.mid", piece_midi(chorales[2])), ("bob-2.mid", piece_midi(chorales[3]))]
    figures: dict[str, float | str] = {}
    with sync_playwright() as p:
        browser = launch(p)
        contexts = [browser.new_context(viewport=VIEWPORT) for _ in range(3)]
        alice, bob, carol = (c.new_page() for c in contexts)
        for page in (alice, bob, carol):
            page.set_default_timeout(90_000)
        try:
            t0 = time.monotonic()
            _upload_and_train(alice, url, alice_files)
            _upload_and_train(bob, url, bob_files)
            a_run, b_run = _running_run_id(alice), _running_run_id(bob)
            figures["both training after (s)"] = round(time.monotonic() - t0, 1)
            assert a_run != b_run

            # Each sees only their own run.
            assert b_run not in alice.locator("body").inner_text()
            assert a_run not in bob.locator("body").inner_text()

            # Carol only listens: the app answers her while both train.
            t1 = time.monotonic()
            carol.goto(url)
            carol.get_by_role("heading", name="musegen").wait_for()
            figures["third user: home page (s)"] = round(time.monotonic() - t1, 1)
            goto(carol, "Generate")
            carol.get_by_text("trained on bach-chorales").first.wait_for()  # the demo model is picked
            set_number(carol, "Length (tokens)", 48)
            set_number(carol, "Variations", 1)
            idle(carol)
            t2 = time.monotonic()
            carol.get_by_role("button", name="Generate").click()
            carol.get_by_role("heading", name="Results").wait_for(timeout=180_000)
            wait_for_audio(carol)
            figures["third user: generate 48 tokens with audio (s)"] = round(time.monotonic() - t2, 1)
            assert a_run not in carol.locator("body").inner_text() and b_run not in carol.locator("body").inner_text()

            # The Runs page lists each one's own run (and the demo), never the other's.
            a_listed, b_listed = _runs_listed(alice), _runs_listed(bob)
            assert a_run in a_listed and b_run not in a_listed and "demo-lstm" in a_listed
            assert b_run in b_listed and a_run not in b_listed
            assert _runs_listed(carol) == ["demo-lstm"]

            # A reload (a new Streamlit session, same address) finds each one's own job, still running.
            for page, run_id in ((alice, a_run), (bob, b_run)):
                goto(page, "Train")
                page.reload()
                page.get_by_role("heading", name=re.compile(re.escape(run_id) + r" · wavenet · running")).wait_for()
                page.get_by_text("1 other training(s) running on this server").wait_for()  # only a number
            # Each stops their own; the other keeps training until stopped in turn.
            alice.get_by_role("button", name="Stop", exact=True).click()
            alice.get_by_role("heading", name=re.compile(re.escape(a_run) + r" · wavenet · stopped")).wait_for()
            assert json.loads((runs_dir / b_run / "status.json").read_text())["state"] == "running"
            bob.get_by_role("button", name="Stop", exact=True).click()
            bob.get_by_role("heading", name=re.compile(re.escape(b_run) + r" · wavenet · stopped")).wait_for()
            figures["whole test (s)"] = round(time.monotonic() - t0, 1)
        except Exception:
            ARTIFACTS.mkdir(exist_ok=True)
            for name, page in (("alice", alice), ("bob", bob), ("carol", carol)):
                page.screenshot(path=str(ARTIFACTS / f"multiuser-{name}.png"), full_page=True)
            raise
        finally:
            for c in contexts:
                c.close()
            browser.close()

    # On disk: two runs, each with its own owner, data and dataset name; nothing shared or overwritten.
    jobs = {r: json.loads((runs_dir / r / "job.json").read_text()) for r in (a_run, b_run)}
    assert jobs[a_run]["owner"] != jobs[b_run]["owner"]
    for run_id, files in ((a_run, alice_files), (b_run, bob_files)):
        config = json.loads((runs_dir / run_id / "config.json").read_text())
        assert config["dataset_name"].startswith(files[0][0])
        data = [Path(d) for d in jobs[run_id]["data"]]
        assert all(jobs[run_id]["owner"] in d.parts for d in data)  # its own session's uploads
        assert {p.name for d in data for p in d.rglob("*.mid")} == {n for n, _ in files}
    print("\nmulti-user figures:", json.dumps(figures))
