"""Hardening: many sessions on one server at once (issue 34 point 5; the figures: ``python -m benchmarks
sessions``, BENCHMARKS.md "Concurrent sessions").

- Sessions that press Generate together on the real app (``streamlit run``, one headless Chromium, a browser
  context each) all get their audio, no error, and each its own seed and its own music, while the server lets
  only one decoding loop run at a time (``MUSEGEN_GENERATION_SLOTS=1``) and queues the others.
- The slots (``musegen.slots``) let ``size`` callers in at once, first come first served, tell a waiting one
  its place, and let a caller that gives up leave the queue.
- One Composer serves every session: sessions opening the page together read its pieces once and see them
  whole (before, a second reader could reset the tempo list while the first was filling it).
- After each script run Streamlit cleared the Keras session (TensorFlow's kernel cache included) under every
  other session's running generation; the app now keeps it.
"""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest

from musegen.generation.compose import Composer
from musegen.slots import Slots, slot_count
from tests.e2e.browser import CHROMIUM, ROOT, run_app
from tests.e2e.load import LENGTH, generate_at_once, passage

pytestmark = pytest.mark.slow  # a real server and browser, real threads

DEMO = ROOT / "assets" / "models" / "demo-lstm"


# ------------------------------------------------------------------ the slots


def test_slots_let_size_callers_in_first_come_first_served():
    slots = Slots("test", size=2)
    inside, most, order, told = [0], [0], [], {}
    guard = threading.Lock()

    def work(i: int) -> None:
        with slots.held(lambda ahead: told.setdefault(i, ahead)):
            with guard:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
                order.append(i)
            time.sleep(0.05)
            with guard:
                inside[0] -= 1

    threads = []
    for i in range(6):
        threads.append(threading.Thread(target=work, args=(i,)))
        threads[-1].start()
        time.sleep(0.01)  # they arrive in this order
    for t in threads:
        t.join(10)
    assert most[0] == 2 and order == list(range(6)) and slots.busy() == (0, 0)
    assert 0 not in told and 1 not in told  # the first two never waited
    assert told[2] >= 1 and told[5] >= told[2]  # a later one has at least as many ahead of it


def test_a_caller_that_gives_up_leaves_the_queue():
    slots = Slots("test", size=1)
    release = threading.Event()

    def hold() -> None:
        with slots.held():
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    while slots.busy()[0] == 0:
        time.sleep(0.01)

    def give_up(ahead: int) -> None:
        raise KeyboardInterrupt  # as a stopped script run does, while it waits

    with pytest.raises(KeyboardInterrupt), slots.held(give_up):
        pass
    assert slots.busy() == (1, 0)
    release.set()
    holder.join(10)
    with slots.held():  # the slot is free again
        assert slots.busy() == (1, 0)


def test_the_number_of_slots_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("MUSEGEN_GENERATION_SLOTS", "3")
    assert slot_count() == 3
    for bad in ("0", "-1", "two", ""):
        monkeypatch.setenv("MUSEGEN_GENERATION_SLOTS", bad)
        assert slot_count() >= 1  # the cores


# ------------------------------------------------------------------ one Composer, many sessions


def test_sessions_opening_one_composer_together_see_its_pieces_whole():
    expected = Composer(DEMO)
    wanted = [expected.random_seed(passage(i), 64) for i in range(8)]
    shared = Composer(DEMO)
    got: dict[int, object] = {}
    start = threading.Barrier(8)

    def open_page(i: int) -> None:
        start.wait()
        got[i] = shared.random_seed(passage(i), 64)

    threads = [threading.Thread(target=open_page, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert [(s.label, s.tempo) for s in (got[i] for i in range(8))] == [(s.label, s.tempo) for s in wanted]
    assert len(shared.pieces()) == len(expected.pieces()) and shared._tempos == expected._tempos


def test_the_app_keeps_the_keras_session_between_script_runs():
    from keras.src.backend.common.global_state import get_global_attribute, set_global_attribute
    from streamlit.runtime.scriptrunner import script_runner

    from pages.server import keep_tensorflow_state

    before = script_runner._clean_problem_modules
    try:
        assert keep_tensorflow_state()
        set_global_attribute("musegen_probe", 1)
        script_runner._clean_problem_modules()  # what Streamlit runs after every script run
        assert get_global_attribute("musegen_probe") == 1
    finally:
        script_runner._clean_problem_modules = before


# ------------------------------------------------------------------ the real server


@pytest.mark.isolated
@pytest.mark.e2e
def test_sessions_generating_at_once_each_get_their_own_audio(tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is not installed: run `make setup-dev` (it runs apt-get install chromium)")
    shutil.copytree(DEMO, tmp_path / "demo" / "demo-lstm", ignore=shutil.ignore_patterns("last.keras"))
    composer = Composer(DEMO)
    n = 4
    with run_app(tmp_path, extra_env={"MUSEGEN_GENERATION_SLOTS": "1"}) as url:
        shown = generate_at_once(url, n, timeout_s=120)
    assert [(s.failure, s.errors) for s in shown] == [("", [])] * n
    for s in shown:  # its own seed, and a result of its own settings
        assert s.seed_label == composer.random_seed(passage(s.index), 64).label
        assert s.result.endswith(f"from {LENGTH} tokens"), s.result
    results = [src for s in shown for src in s.audio[1:]]  # the first player is the seed's
    assert len(results) >= n and len(set(results)) == len(results)  # nobody got another's music
    assert "Error" not in (tmp_path / "streamlit.log").read_text()
