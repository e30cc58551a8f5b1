"""The Train page starts from the bundled base model by default, and fine-tunes it in the background worker."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import tests.app_helpers as ui
from musegen import runs
from tests.cli.test_train import _train_in_a_process
from tests.shared import once

pytestmark = pytest.mark.slow  # a real training in the background worker


def test_the_train_page_fine_tunes_the_bundled_base_by_default(folders, tmp_path_factory):
    report, _ = once(("cli-train",), lambda: _train_in_a_process(tmp_path_factory.mktemp("runs")))
    base = folders / "demo" / "tiny-base"
    shutil.copytree(report["run_dir"], base)
    at = ui.app()
    at.switch_page(ui.TRAIN).run()
    start = ui.widget(at.radio, "Start from")
    assert start.value == str(base) and "scratch (random weights)" in start.options[-1]
    assert "tiny-base: wavenet, trained on bach-chorales (first 8 pieces)" in ui.texts(at)
    assert ui.widget(at.number_input, "Learning rate").value == pytest.approx(3e-4)
    ui.widget(at.number_input, "Epochs").set_value(1).run()
    ui.widget(at.button, "Start training").click().run()
    assert not at.exception and not at.error
    run_dir = Path(at.session_state["train_run"])
    assert ui.wait_for_training(at) == "finished", (run_dir / "worker.log").read_text()[-2000:]
    assert "fine-tuning tiny-base" in (run_dir / "worker.log").read_text()
    assert runs.load_run(run_dir).config.base == str(base.resolve())
    # from scratch: the usual architecture and settings come back
    ui.widget(at.radio, "Start from").set_value("scratch").run()
    assert ui.widget(at.selectbox, "Architecture")


def test_without_a_base_the_page_says_how_to_make_one(folders):
    at = ui.app()
    at.switch_page(ui.TRAIN).run()
    assert not at.exception and "No base model is bundled here" in ui.texts(at)
