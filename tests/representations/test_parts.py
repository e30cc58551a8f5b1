"""The Representation interface in five parts: each method in one part, every representation all five,
and the decoding loop asking the representation instead of naming one."""

from __future__ import annotations

import ast
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from musegen.config import SamplingConfig
from musegen.errors import ConfigError
from musegen.representations import registry
from musegen.representations.base import PARTS, Codec, Data, Modelling, Representation, Scoring, Steering
from musegen.representations.pianoroll import PianoRollRepresentation

ROOT = Path(__file__).resolve().parents[2]


def _own(part: type) -> set[str]:
    return {name for name in vars(part) if not name.startswith("__") or name == "__init__"} - {"_abc_impl"}


def test_the_interface_is_its_five_parts_and_each_method_is_in_one_of_them():
    assert (Codec, Modelling, Data, Scoring, Steering) == PARTS
    assert Representation.__bases__ == PARTS and not _own(Representation)
    methods = {
        part: {n for n in _own(part) if callable(getattr(part, n)) or isinstance(vars(part)[n], property)}
        for part in PARTS
    }
    for part in PARTS:
        for other in PARTS:
            if other is not part:
                assert not methods[part] & methods[other], (part.__name__, other.__name__)
    assert {"sequence", "fit_vocab", "ids", "decode", "time_cursor"} <= methods[Codec]
    assert {"build_model", "output_width", "check_model", "for_model"} <= methods[Modelling]
    assert {"training_data", "windows", "batches", "store_training_data"} <= methods[Data]
    assert {"score", "floor", "uniform_nll"} <= methods[Scoring]
    assert {"start", "sample", "constraint", "infill_plan"} <= methods[Steering]


@pytest.mark.parametrize("name", registry.NAMES)
def test_every_registered_representation_is_every_part(name):
    cls = registry.get(name)
    assert all(issubclass(cls, part) for part in PARTS) and not cls.__abstractmethods__


def _model(inputs: tuple, width: int) -> SimpleNamespace:
    return SimpleNamespace(inputs=[SimpleNamespace(shape=inputs)], outputs=[SimpleNamespace(shape=(None, None, width))])


def test_a_bare_frame_model_finds_its_representation_and_a_token_model_none():
    for keys in (88, 176):  # the NADE head reads the target frame beside the context
        rep = registry.for_model(_model((None, None, keys), 88))
        assert isinstance(rep, PianoRollRepresentation)
        assert rep.start().shape == (1, 88) and rep.sample(
            np.zeros((2, 88)), SamplingConfig(), np.random.default_rng(0)
        ).shape == (2, 88)
    assert registry.for_model(_model((None, None), 300)) is None  # token ids: no vocabulary, no representation
    assert registry.for_model(_model((None, None, 88), 90)) is None
    with pytest.raises(ConfigError, match="predicts 90 values per step"):
        PianoRollRepresentation(4).check_model(_model((None, None, 88), 90))
    with pytest.raises(ConfigError, match="88-key piano-roll frames"):
        PianoRollRepresentation(4).check_model(_model((None, None, 12), 88))


def test_the_decoding_loop_names_no_representation():
    """generation/ reaches representations only through the interface, the codec's id check and the registry."""
    allowed = {"musegen.representations.base", "musegen.representations.codec", "musegen.representations.registry"}
    for path in ROOT.joinpath("musegen", "generation").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "musegen.representations":
                assert {a.name for a in node.names} <= {"registry", "base", "codec"}, path
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("musegen.representations."):
                assert node.module in allowed, (path, node.module)
