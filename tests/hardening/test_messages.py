"""Hardening, third round (issue 34, point 3): messages that misled now say what happened.

A zip64 archive with a prefix is counted by its zip64 record (not the 16-bit 65,535); a model whose weights
are NaN is refused as such; a character device given to ``ingest --store`` is named; a bad dropout rate and
weights that do not fit their layers get musegen's message without Keras's text or warnings; no message ends
in two periods.
"""

from __future__ import annotations

import io
import json
import warnings
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest

from musegen.errors import MidiReadError, ModelLoadError, StorageError
from musegen.modelfile import check_model_file
from tests.cli_runner import run_musegen
from tests.hardening.hostile import many_entries_zip

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "assets" / "models" / "demo-lstm" / "model.keras"


def _rewrite(path: Path, config=None, weights=None) -> Path:
    """The demo model with its config.json passed through ``config`` and its weights through ``weights``."""
    members = {}
    with zipfile.ZipFile(DEMO) as zf:
        for name in zf.namelist():
            members[name] = zf.read(name)
    if config:
        members["config.json"] = json.dumps(config(json.loads(members["config.json"]))).encode()
    if weights:
        buf = io.BytesIO(members["model.weights.h5"])
        with h5py.File(buf, "r+") as h5:
            weights(h5)
        members["model.weights.h5"] = buf.getvalue()
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_a_zip64_model_with_a_prefix_is_counted_by_its_zip64_record(tmp_path):
    path = tmp_path / "many.keras"
    path.write_bytes(b"#!self-extracting prefix\n" * 4 + many_entries_zip(70_000))
    with pytest.raises(ModelLoadError, match="lists 70,000 files"):
        check_model_file(path)


def test_nan_weights_are_refused_as_not_finite(tmp_path):
    from musegen.models import load_model
    from musegen.models.incremental import Stepper

    def poison(h5):
        data = h5["layers/dense/vars/0"]
        data[...] = np.full(data.shape, np.nan, dtype=data.dtype)

    model = load_model(_rewrite(tmp_path / "nan.keras", weights=poison))
    with pytest.raises(ModelLoadError, match=r"weights that are not finite numbers \(NaN or infinity\)") as exc:
        Stepper(model, 1)
    assert "adapter -> stack -> head" not in str(exc.value)


def test_a_bad_dropout_gets_musegens_message(tmp_path):
    def bad(config):
        config["config"]["layers"][2]["config"]["dropout"] = 5
        return config

    with pytest.raises(ModelLoadError, match=r"RecurrentStack layer has dropout = 5; a dropout rate is a number") as e:
        check_model_file(_rewrite(tmp_path / "drop.keras", config=bad))
    assert str(e.value).endswith("another run.")


def test_weights_that_do_not_fit_are_refused_without_keras_warnings(tmp_path):
    from musegen.models import load_model

    def drop_cell(h5):
        del h5["layers/recurrent_stack/lstms/lstm/cell/vars/2"]

    path = _rewrite(tmp_path / "h5.keras", weights=drop_cell)
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        with pytest.raises(ModelLoadError, match=r"^Could not load the model .*\.$") as exc:
            load_model(path)
    assert not said, [str(w.message) for w in said]
    assert ".." not in str(exc.value)[-3:]


def test_a_character_device_is_not_called_a_file(tmp_path):
    if not Path("/dev/null").exists():
        pytest.skip("no /dev/null on this machine")
    proc = run_musegen("ingest", str(tmp_path), "--store", "/dev/null")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "/dev/null is a character device" in proc.stderr and "is a file" not in proc.stderr


@pytest.mark.parametrize("cls", [MidiReadError, ModelLoadError, StorageError])
def test_no_message_ends_in_two_periods(cls):
    assert str(cls("cannot read it (the file ended.).")) == "cannot read it (the file ended.)."
    assert str(cls("it ended..")) == "it ended."
    assert str(cls("and so on...")) == "and so on..."


def test_the_demo_model_still_loads_without_warnings():
    from musegen.models import load_model

    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        model = load_model(DEMO)
    assert model.outputs and not [w for w in said if "variables" in str(w.message)]
