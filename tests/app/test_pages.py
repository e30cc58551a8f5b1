"""Page tests with Streamlit's AppTest: every page runs, its key widgets exist, the main flow works.

The main flow is the real one on the built-in Bach chorales: ingest, a tiny training in the
background worker, generation with audio, the Runs page, and the home page's demo player.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from musegen import runs
from musegen.config import Limits
from musegen.training import sizing
from tests import app_helpers as ui
from tests.midi_factory import piece_midi

pytestmark = pytest.mark.slow  # trains real models or runs real processes: `pytest -m "not slow"` skips it

PAGES = [ui.DATASET, ui.TRAIN, ui.GENERATE, ui.RUNS]


def test_home_explains_what_is_missing(folders):
    at = ui.app()
    assert at.title[0].value == "musegen"
    assert "make demo-models" in at.info[0].value  # no demo model yet: a friendly note, no button
    assert "built-in Bach chorales" in ui.texts(at)
    assert "FluidSynth" in ui.texts(at)


@pytest.mark.parametrize("page", PAGES)
def test_each_page_runs_on_an_empty_server(folders, page):
    at = ui.app()
    at.switch_page(page).run()
    assert not at.exception
    assert not at.error
    if page == PAGES[0]:
        assert ui.widget(at.radio, "Source").options == ["Built-in Bach chorales", "Upload MIDI files"]
        assert ui.widget(at.number_input, "Window length").value == 128
        assert [m.label for m in at.metric][:5] == ["Pieces", "Notes", "Tokens", "Vocabulary", "Pitch range"]
        assert at.metric[0].value == "371"
        assert [m.label for m in at.metric][5:] == ["On the grid", "Velocity mean", "Velocity spread"]
        assert at.metric[5].value == "100%"  # the chorales are written on the grid, at one loudness
        assert not at.warning and "no dynamics (one loudness)" in ui.texts(at)
        assert at.session_state["dataset"].data.velocity is False
    elif page == PAGES[1]:
        assert ui.widget(at.selectbox, "Architecture").options[:2] == [
            "WaveNet — gated dilated causal convolutions (fast, parallel)",
            "LSTM — two recurrent layers",
        ]
        assert {"Epochs", "Batch size", "Learning rate"} <= {n.label for n in at.number_input}
        assert ui.widget(at.button, "Start training")
    elif page == PAGES[2]:
        assert "No trained model yet" in at.info[0].value
    else:
        assert "No runs yet" in at.info[0].value


@pytest.mark.parametrize("helper", ["pages/common.py", "pages/__init__.py"])
def test_the_helpers_in_pages_are_not_pages(folders, helper):
    at = ui.app()  # streamlit_app.py lists its pages with st.navigation: nothing else in pages/ is one
    with pytest.raises(ValueError, match="navigation page"):
        at.switch_page(helper)
    for page in PAGES:
        at.switch_page(page)  # the listed ones are


def test_dataset_upload_reports_the_bad_file_and_uses_the_rest(folders, chorales):
    at = ui.app()
    at.switch_page(PAGES[0]).run()
    ui.widget(at.radio, "Source").set_value("Upload MIDI files").run()
    assert "Upload MIDI files or pick the built-in corpus." in at.info[0].value
    uploads = [
        ("good.mid", piece_midi(chorales[0]), "audio/midi"),
        ("also-good.mid", piece_midi(chorales[1]), "audio/midi"),
        ("page.mid", b"<!DOCTYPE html><html></html>", "audio/midi"),
    ]
    at.file_uploader[0].set_value(uploads).run()
    assert not at.exception
    assert "2 of 3 files are used" in at.warning[0].value and "page.mid" in at.warning[0].value
    table = at.dataframe[0].value
    assert list(table["status"]) == ["skipped", "ok", "ok"]
    assert "HTML" in table["reason"].iloc[0]
    assert at.metric[0].value == "2"
    ds = at.session_state["dataset"]
    assert len(ds.pieces) == 2 and len(ds.data_paths) == 1
    assert Path(ds.data_paths[0]).is_relative_to(folders / "runs" / ".sessions")
    assert len(at.get("audio")) == 1  # the preview of the first piece


def test_main_flow_on_the_builtin_corpus(folders):
    at = ui.app()
    # Dataset: the built-in chorales with a small window.
    at.switch_page(PAGES[0]).run()
    ui.widget(at.number_input, "Window length").set_value(32).run()
    assert at.session_state["dataset"].data.window == 32
    # Train: a tiny WaveNet on a few pieces, in the background worker.
    at.switch_page(PAGES[1]).run()
    for label, value in [("Epochs", 1), ("Use at most", 8), ("Embedding", 16), ("WaveNet channels", 16)]:
        ui.widget(at.number_input, label).set_value(value)
    at.run()
    ui.widget(at.button, "Start training").click().run()
    assert not at.exception and not at.error
    run_dir = Path(at.session_state["train_run"])
    assert run_dir.parent == folders / "runs"
    assert ui.wait_for_training(at) == "finished", (run_dir / "worker.log").read_text()[-2000:]
    assert any(p.value == 100 for p in at.get("progress"))
    assert "n-gram baseline" in ui.texts(at)
    assert at.dataframe[0].value["model"].iloc[0] == "wavenet"  # held-out metrics beside the baseline
    # Generate: the new run is picked, two variations, audio and downloads.
    at.switch_page(PAGES[2]).run()
    assert "yours" in ui.widget(at.selectbox, "Model").value.label
    ui.widget(at.number_input, "Length").set_value(48).run()
    ui.widget(at.button, "Generate").click().run()
    assert not at.exception and not at.error
    assert len(at.get("audio")) >= 3  # the seed and one per variation
    assert len(at.get("download_button")) == 4  # MIDI and WAV per variation
    assert "Overlap with the real music" in ui.texts(at)
    # Runs: the run with its metrics, its loss curve, and delete with confirmation.
    at.switch_page(PAGES[3]).run()
    assert not at.exception
    assert list(at.dataframe[0].value["run"]) == [run_dir.name]
    assert ui.widget(at.multiselect, "Runs to compare").value == [run_dir.name]
    # The home page's demo player, with this run standing in for a bundled demo model.
    shutil.copytree(run_dir, folders / "demo" / "demo-wavenet")
    at.switch_page("streamlit_app.py").run()
    ui.widget(at.button, "Play a demo").click().run()
    assert not at.exception and not at.error
    assert len(at.get("audio")) == 1
    assert "1 bundled demo model" in ui.texts(at)
    # Delete the run from the Runs page (a confirmation first).
    at.switch_page(PAGES[3]).run()
    ui.widget(at.button, "Yes, delete it").click().run()
    assert not run_dir.exists()


def test_a_full_server_shows_the_queue_and_stop_ends_the_waiting_job(folders, monkeypatch):
    from musegen import runs
    from musegen.config import RunConfig

    monkeypatch.setenv("MUSEGEN_MAX_CONCURRENT_TRAININGS", "1")
    busy = folders / "runs" / "another-users-training"  # reads as running: this test process is alive
    busy.mkdir(parents=True)
    runs.atomic_write_text(busy / runs.CONFIG, RunConfig().to_json())
    runs.write_status(busy, "running", "epoch 3/20")
    at = ui.app()
    at.switch_page(PAGES[1]).run()
    assert "1 other training(s) running" in ui.texts(at)
    ui.widget(at.button, "Start training").click().run()
    deadline = time.monotonic() + 60
    while "Waiting for a free training slot" not in ui.texts(at) and time.monotonic() < deadline:
        time.sleep(1)
        at.run()
    assert "1 of 1 trainings are running; this one is number 1 in the queue" in ui.texts(at)
    assert ui.widget(at.button, "Start training").disabled  # one job per session at a time
    ui.widget(at.button, "Stop").click().run()
    deadline = time.monotonic() + 60
    while "**stopped**" not in ui.texts(at) and time.monotonic() < deadline:
        time.sleep(1)
        at.run()
    assert "stopped before training began" in ui.texts(at)


def test_upload_limit_of_the_app_matches_the_library():
    config = tomllib.loads((ui.ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] == Limits().max_upload_mb


def test_home_page_does_not_import_tensorflow(folders):
    code = (
        "import sys; from streamlit.testing.v1 import AppTest; "
        f"at = AppTest.from_file({ui.APP!r}, default_timeout=60).run(); "
        "assert not at.exception, at.exception; "
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.split()[-2:] == ["False", "False"]


def test_a_piano_roll_run_with_the_nade_head_from_the_pages(folders):
    """Piano roll on the Dataset page; the Train page offers the NADE head first; the run's metrics name it
    and the Generate page plays its chords."""
    at = ui.app()
    at.switch_page(PAGES[0]).run()
    ui.widget(at.selectbox, "Representation").set_value("pianoroll").run()
    ui.widget(at.number_input, "Window length").set_value(32).run()
    assert at.session_state["dataset"].data.representation == "pianoroll"
    at.switch_page(PAGES[1]).run()
    head = ui.widget(at.radio, "Output head")
    assert head.value == "nade" and head.options == [
        "Independent keys — one sigmoid per key",
        "NADE chords — each key given the keys below it",
    ]
    for label, value in [("Epochs", 1), ("Use at most", 6), ("Embedding", 16), ("WaveNet channels", 16)]:
        ui.widget(at.number_input, label).set_value(value)
    ui.widget(at.number_input, "NADE hidden units").set_value(16)
    at.run()
    choice = ui.widget(at.checkbox, sizing.SELECTION_LABEL)
    assert not choice.value  # offered for piano rolls, off by default (it measured worse on 2 shared cores)
    choice.check().run()
    ui.widget(at.button, "Start training").click().run()
    assert not at.exception and not at.error
    run_dir = Path(at.session_state["train_run"])
    trained = runs.load_run(run_dir).config.train
    assert (trained.eval_every, trained.lr_schedule) == ((-1, "budget") if trained.max_minutes else (0, "constant"))
    assert ui.wait_for_training(at) == "finished", (run_dir / "worker.log").read_text()[-2000:]
    assert at.dataframe[0].value["model"].iloc[0] == "wavenet + NADE head"
    assert "per-key Markov floor" in list(at.dataframe[0].value["model"])
    at.switch_page(PAGES[2]).run()
    assert "NADE head" in ui.texts(at)
    assert not [s for s in at.slider if s.label.startswith("Temperature of")]  # frames have no duration tokens
    ui.widget(at.number_input, "Length").set_value(32).run()
    ui.widget(at.button, "Generate").click().run()
    assert not at.exception and not at.error
    assert len(at.get("audio")) >= 2


def test_the_bundled_transformer_demo_generates_and_its_curve_overlays_the_others(folders):
    """The Transformer is a run like the others: the Generate page plays it, the Runs page charts it."""
    demos = Path(__file__).resolve().parents[2] / "assets" / "models"
    for name in ("demo-transformer", "demo-lstm"):
        shutil.copytree(demos / name, folders / "demo" / name, ignore=shutil.ignore_patterns("last.keras"))
    at = ui.app()
    at.switch_page(PAGES[2]).run()
    model = ui.widget(at.selectbox, "Model")
    model.set_value(next(c for c in model.options if "demo-transformer" in c)).run()
    assert "transformer" in ui.texts(at)
    lengths = ui.widget(at.slider, "Temperature of note lengths")  # timed tokens: durations of their own
    assert lengths.value == 1.0
    lengths.set_value(0.5)
    ui.widget(at.number_input, "Length").set_value(32).run()
    ui.widget(at.button, "Generate").click().run()
    assert not at.exception and not at.error
    assert len(at.get("audio")) >= 2
    at.switch_page(PAGES[3]).run()
    assert not at.exception
    ui.widget(at.multiselect, "Runs to compare").set_value(["demo-transformer", "demo-lstm"]).run()
    assert not at.exception and not at.error
    assert "transformer" in ui.texts(at) or any("transformer" in str(d.value) for d in at.dataframe)
