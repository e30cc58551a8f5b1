"""The Runs page's "Where the model is surprised" section with Streamlit's AppTest, on a bundled demo model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests import app_helpers as ui
from tests.midi_factory import piece_midi

pytestmark = pytest.mark.slow  # loads a real model

DEMO = Path(__file__).resolve().parents[2] / "assets" / "models" / "demo-wavenet"


@pytest.fixture()
def with_demo(folders) -> Path:
    shutil.copytree(DEMO, folders / "demo" / "demo-wavenet")
    return folders


def _surprise_section(at):
    at.switch_page(ui.RUNS).run()
    assert not at.exception
    assert "demo-wavenet" in ui.widget(at.selectbox, "Model").value.label
    return at


def test_surprise_of_a_dataset_piece(with_demo):
    at = _surprise_section(ui.app())
    assert "press **Find the surprises**" in ui.texts(at)
    assert not at.metric  # nothing scored yet
    ui.widget(at.selectbox, "Piece").set_value(2).run()
    ui.widget(at.button, "Find the surprises").click().run()
    assert not at.exception and not at.error
    labels = [m.label for m in at.metric]
    assert labels == ["Mean NLL (nats per token)", "Held-out mean (nats per token)", "Notes"]
    heldout = json.loads((DEMO / "metrics.json").read_text())["model"]["nll"]
    assert "vs held-out" in at.metric[0].delta and at.metric[1].value == f"{heldout:.3f}"
    charts = [c.proto.spec for c in at.get("vega_lite_chart")]  # the loss curves, then the surprise roll
    assert "NLL (nats)" in charts[-1] and "yelloworangered" in charts[-1]
    table = at.dataframe[-1].value
    assert list(table.columns) == ["start", "note", "pitch", "nll"] and len(table) == 10
    assert list(table["nll"]) == sorted(table["nll"], reverse=True)
    assert at.session_state["surprise"][1].label.split(",")[0] in ui.texts(at)
    at.run()  # a rerun keeps the result while the choice stays
    assert len(at.metric) == 3 and not at.exception


def test_surprise_of_an_uploaded_file_and_of_a_bad_one(with_demo, chorales):
    at = _surprise_section(ui.app())
    ui.widget(at.radio, "Piece").set_value("My own MIDI file").run()
    assert "Upload a MIDI file" in ui.texts(at)
    at.file_uploader[0].set_value([("page.mid", b"<!DOCTYPE html><html></html>", "audio/midi")]).run()
    ui.widget(at.button, "Find the surprises").click().run()
    assert not at.exception
    assert "not a MIDI file" in at.error[0].value and not at.metric
    at.file_uploader[0].set_value([("mine.mid", piece_midi(chorales[4]), "audio/midi")]).run()
    ui.widget(at.button, "Find the surprises").click().run()
    assert not at.exception and not at.error
    assert int(at.metric[2].value) > 0
    assert "uploaded: mine.mid" in ui.texts(at)
