"""The Generate page steers the music: fill in a span of a seed or of a result, keep to a key, see what
was copied. On the bundled demo Transformer (trained to infill) and a copy of it that was not."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests import app_helpers as ui

pytestmark = pytest.mark.slow  # loads a real model and generates

DEMOS = Path(__file__).resolve().parents[2] / "assets" / "models"


@pytest.fixture()
def demo(folders) -> Path:
    target = folders / "demo" / "demo-transformer"
    shutil.copytree(DEMOS / "demo-transformer", target, ignore=shutil.ignore_patterns("last.keras"))
    return target


def _generate_page(demo: Path):
    at = ui.app()
    at.switch_page(ui.GENERATE).run()
    model = ui.widget(at.selectbox, "Model")
    model.set_value(next(c for c in model.options if demo.name in c)).run()
    return at


def test_fill_in_a_span_of_a_seed_keeping_to_a_key(demo):
    at = _generate_page(demo)
    ui.widget(at.radio, "Task").set_value("Fill in a passage").run()
    assert not at.exception and not at.error
    start, end = ui.widget(at.slider, "Span to regenerate").value
    assert 0 < start < end
    ui.widget(at.slider, "Span to regenerate").set_value((4.0, 8.0)).run()
    ui.widget(at.selectbox, "Key").set_value("G").run()
    ui.widget(at.selectbox, "Scale").set_value("major").run()
    ui.widget(at.number_input, "Variations").set_value(2).run()
    ui.widget(at.button, "Fill in").click().run()
    assert not at.exception and not at.error
    result = at.session_state["infilling"][1]
    assert (result.start, result.end) == (4.0, 8.0) and len(result.pieces) == 2
    for middle in result.middles:
        assert {int(p) % 12 for p in middle.notes[:, 2]} <= {7, 9, 11, 0, 2, 4, 6}
    assert "in G major" in ui.texts(at)
    assert "follows what comes before" not in ui.texts(at)  # the Transformer uses both sides: no advice
    assert "longest passage also in the training data" in ui.texts(at).lower()
    assert len(at.get("download_button")) == 4  # MIDI and WAV of each variation
    assert len(at.get("audio")) >= 2


def test_fill_in_a_span_of_a_generated_result(demo):
    at = _generate_page(demo)
    ui.widget(at.number_input, "Length").set_value(48).run()
    ui.widget(at.button, "Generate").click().run()
    assert not at.exception and not at.error
    assert "longest passage also in the training data" in ui.texts(at).lower()  # originality of each variation
    ui.widget(at.radio, "Task").set_value("Fill in a passage").run()
    ui.widget(at.radio, "Fill in").set_value("Generated variation 1").run()
    ui.widget(at.button, "Fill in").click().run()
    assert not at.exception and not at.error
    result = at.session_state["infilling"][1]
    joined = at.session_state["composition"][1].joined(0)
    before = joined.notes[joined.notes[:, 0] < result.start]
    np.testing.assert_array_equal(result.pieces[0].notes[: len(before), [0, 2]], before[:, [0, 2]])


def test_filling_in_with_an_lstm_says_it_follows_what_comes_before(folders):
    lstm = folders / "demo" / "demo-lstm"
    shutil.copytree(DEMOS / "demo-lstm", lstm, ignore=shutil.ignore_patterns("last.keras"))
    at = _generate_page(lstm)
    assert "follows what comes before" not in ui.texts(at)  # continuing: nothing to say
    ui.widget(at.radio, "Task").set_value("Fill in a passage").run()
    assert not at.exception and not at.error
    assert "An LSTM hears the music after the span only faintly" in ui.texts(at)


def test_a_run_trained_without_infilling_says_so(demo, folders):
    old = folders / "demo" / "demo-old"
    shutil.copytree(demo, old)
    vocab = json.loads((old / "vocab.json").read_text())
    vocab["tokens"] = [t for t in vocab["tokens"] if not t.startswith("<fim_")]
    vocab["meta"].pop("fim", None)
    (old / "vocab.json").write_text(json.dumps(vocab))
    at = _generate_page(old)
    ui.widget(at.radio, "Task").set_value("Fill in a passage").run()
    assert not at.exception
    assert "trained without fill-in-the-middle" in ui.texts(at)


def test_the_home_page_demo_fills_in_two_bars(demo):
    at = ui.app()
    ui.widget(at.button, "Play a demo").click().run()
    ui.widget(at.button, "Fill in two bars anew").click().run()
    assert not at.exception and not at.error
    fill = at.session_state["demo_fill"]
    assert fill.end - fill.start == 8.0 and fill.middles[0].n_notes > 0
    assert len(at.get("audio")) == 2
    assert "filled in anew" in ui.texts(at)


def test_the_train_page_offers_infilling_for_token_runs(folders):
    at = ui.app()
    at.switch_page(ui.TRAIN).run()
    assert ui.widget(at.checkbox, "Also learn to fill in passages").value is True
    assert "follows what comes before" not in ui.texts(at)  # a WaveNet uses both sides of the span
    ui.widget(at.selectbox, "Architecture").set_value("lstm").run()
    assert "An LSTM hears the music after the span only faintly" in ui.texts(at)
    ui.widget(at.selectbox, "Architecture").set_value("classic-lstm").run()
    assert not any(c.label.startswith("Also learn to fill in") for c in at.checkbox)


def test_generate_over_a_typed_chord_progression(demo):
    at = _generate_page(demo)
    ui.widget(at.text_input, "Chord progression").set_value("C | Hm7").run()
    assert not at.exception and "'Hm7' is not a chord symbol" in ui.texts(at)
    ui.widget(at.text_input, "Chord progression").set_value("C | Am | F | G").run()
    ui.widget(at.number_input, "Length").set_value(48).run()
    ui.widget(at.number_input, "Variations").set_value(1).run()
    ui.widget(at.button, "Generate").click().run()
    assert not at.exception and not at.error
    comp = at.session_state["composition"][1]
    assert comp.constraints.chords == "C | Am | F | G" and comp.chord_report()["share"] == 1.0
    assert "over C | Am | F | G (hard" in ui.texts(at)
    assert "100% of the notes begun under a chord are its tones" in ui.texts(at)
    assert [m[2] for m in comp.chord_marks(0)][:2] == ["C", "Am"]


@pytest.fixture(scope="module")
def performance_fim(tmp_path_factory) -> Path:
    """A tiny performance run that learned to infill (played pieces with a tempo map)."""
    from musegen.config import DataConfig, ModelConfig, RunConfig, TrainConfig
    from tests.representations.test_performance import played_run

    config = RunConfig(
        data=DataConfig(representation="performance", window=128, stride=64, val_fraction=0.25, fim_rate=0.5),
        model=ModelConfig("lstm", embed_dim=16, units=32, layers=1),
        train=TrainConfig(epochs=1, batch_size=16, learning_rate=5e-3, seed=0),
    )
    return played_run(config, tmp_path_factory.mktemp("runs"), "performance-fim", pieces=4)


def test_a_performance_run_fills_in_a_span_chosen_in_seconds(performance_fim, folders):
    target = folders / "demo" / "demo-played"
    shutil.copytree(performance_fim, target)
    at = _generate_page(target)
    ui.widget(at.radio, "Task").set_value("Fill in a passage").run()
    assert not at.exception and not at.error
    ui.widget(at.slider, "Span to regenerate (seconds)").set_value((2.0, 4.0)).run()
    ui.widget(at.number_input, "Variations").set_value(1).run()
    ui.widget(at.button, "Fill in").click().run()
    assert not at.exception and not at.error
    result = at.session_state["infilling"][1]
    assert result.plan.where == "seconds 2.00-4.00" and "seconds 2.00-4.00" in ui.texts(at)
    assert result.middles[0].n_notes > 0 and len(at.get("audio")) >= 1
