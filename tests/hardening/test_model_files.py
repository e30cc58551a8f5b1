"""Hardening: broken, foreign and unsafe model files, in the library, the CLI and the Generate page.

Each case is a copy of the bundled demo run whose ``model.keras`` was replaced: cut in half,
taken from a model of another vocabulary, a text file, or a model with a Lambda layer (code
that safe mode refuses to run). Every one fails with a message that says what to do, and the
good model next to them still generates in the same session.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import keras
import pytest

from musegen.config import ModelConfig, SamplingConfig
from musegen.errors import ModelLoadError
from musegen.generation.compose import Composer
from tests import app_helpers as ui
from tests.cli_runner import run_musegen

pytestmark = pytest.mark.slow  # trains real models or runs real processes: `pytest -m "not slow"` skips it

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "assets" / "models" / "demo-lstm"

CASES = {  # run name -> words the message must contain
    "truncated": "not a Keras model archive",
    "foreign-vocab": "comes from another run or dataset",
    "not-a-model": "not a Keras model archive",
    "lambda-layer": "Lambda layer",
}


def _broken_model(kind: str, path: Path) -> None:
    good = (DEMO / "model.keras").read_bytes()
    if kind == "truncated":
        path.write_bytes(good[: len(good) // 2])
    elif kind == "not-a-model":
        path.write_text("<html>this was a download error page, not a model</html>\n")
    elif kind == "foreign-vocab":
        from musegen.models import build_model

        build_model(ModelConfig(arch="lstm", embed_dim=8, units=8, layers=1), 17, 32).save(path)
    else:
        inputs = keras.Input(shape=(None,), dtype="int32")
        outputs = keras.layers.Lambda(lambda x: keras.ops.one_hot(x, 163) * 2.0)(inputs)
        keras.Model(inputs, outputs).save(path)


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory) -> Path:
    """The good demo run and one broken copy per case, as a folder of demo models."""
    folder = tmp_path_factory.mktemp("demo")
    shutil.copytree(DEMO, folder / "good", ignore=shutil.ignore_patterns("last.keras"))
    for kind in CASES:
        shutil.copytree(DEMO, folder / kind, ignore=shutil.ignore_patterns("last.keras", "model.keras"))
        _broken_model(kind, folder / kind / "model.keras")
    return folder


@pytest.mark.parametrize("kind", list(CASES))
def test_library_refuses_the_model_with_a_reason(demo_dir, kind):
    composer = Composer(demo_dir / kind)  # reading the run needs no model
    seed = composer.seed_from_piece(0, 0, 16)
    with pytest.raises(ModelLoadError, match=CASES[kind]) as exc:
        composer.compose(seed, SamplingConfig(length=8, seed=0))
    assert "retrain" in str(exc.value).lower() or "train this run again" in str(exc.value)


def test_the_good_model_next_to_them_still_generates(demo_dir):
    composer = Composer(demo_dir / "good")
    comp = composer.compose(composer.seed_from_piece(0, 0, 16), SamplingConfig(length=16, seed=0))
    assert comp.token_counts == [16] and comp.continuations[0].n_notes > 0


@pytest.mark.parametrize("kind", list(CASES))
def test_cli_generate_exits_2_with_the_reason(demo_dir, kind, tmp_path):
    out = tmp_path / "out.mid"
    proc = run_musegen("generate", str(demo_dir / kind), "--length", "8", "--out", str(out), cwd=ROOT)
    assert proc.returncode == 2, proc.stderr[-2000:]
    last = proc.stderr.strip().splitlines()[-1]  # TensorFlow may log a line or two before
    assert last.startswith("error: ") and CASES[kind] in last
    assert "Traceback" not in proc.stderr
    assert not out.exists() and not list(tmp_path.iterdir())  # nothing half-written


@pytest.mark.parametrize("kind", ["truncated", "not-a-model"])
def test_a_file_that_is_no_archive_is_refused_before_tensorflow_loads(demo_dir, kind):
    check = (
        "import sys\n"
        "from musegen import runs\n"
        "from musegen.errors import ModelLoadError\n"
        "try:\n"
        f"    runs.load_run_model({str(demo_dir / kind)!r})\n"
        "except ModelLoadError as exc:\n"
        "    print('refused:', exc)\n"
        "print('tensorflow imported:', 'tensorflow' in sys.modules)\n"
    )
    proc = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert "refused:" in proc.stdout and CASES[kind] in proc.stdout, proc.stderr[-2000:]
    assert "tensorflow imported: False" in proc.stdout


def _pick(at, run_name: str) -> None:
    picker = ui.widget(at.selectbox, "Model")
    picker.select_index(next(i for i, label in enumerate(picker.options) if label.startswith(run_name + " "))).run()


def test_generate_page_shows_each_reason_and_goes_on(demo_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("MUSEGEN_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("MUSEGEN_DEMO_DIR", str(demo_dir))
    at = ui.app()
    at.switch_page(ui.GENERATE).run()
    assert len(ui.widget(at.selectbox, "Model").options) == 1 + len(CASES)
    for kind, words in CASES.items():
        _pick(at, kind)
        ui.widget(at.number_input, "Length").set_value(16).run()
        ui.widget(at.button, "Generate").click().run()
        assert not at.exception, (kind, at.exception)
        assert any(words in e.value for e in at.error), (kind, [e.value for e in at.error])
    _pick(at, "good")  # the same session goes on with a good model
    ui.widget(at.number_input, "Length").set_value(16).run()
    ui.widget(at.button, "Generate").click().run()
    assert not at.exception and not at.error
    assert len(at.get("audio")) >= 2  # the seed and the variation play
