"""The Representation interface: the registry, the model pairing rules, and one contract for all."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from musegen.config import ARCHITECTURES, DataConfig, ModelConfig, RunConfig, SamplingConfig
from musegen.errors import ConfigError
from musegen.representations.base import Representation
from musegen.representations.registry import NAMES, check, for_arch, for_config, for_vocab, get
from musegen.runs import create_run

ROOT = Path(__file__).resolve().parents[2]


def test_the_registry_knows_every_representation_and_refuses_others():
    assert NAMES == ("timed", "classic", "pianoroll", "performance")
    for name in NAMES:
        assert issubclass(get(name), Representation) and get(name).name == name
    with pytest.raises(ConfigError, match="representation must be one of 'timed', 'classic', 'pianoroll'"):
        for_config(DataConfig(representation="midi"))


def test_a_config_with_an_unknown_representation_or_an_unreadable_pairing_is_refused(tmp_path):
    bad = RunConfig(data=DataConfig(representation="midi"))
    with pytest.raises(ConfigError, match="representation"):
        check(bad)
    with pytest.raises(ConfigError, match="representation"):
        create_run(tmp_path, bad, for_config(DataConfig()).vocab)
    for rep in ("timed", "pianoroll"):
        with pytest.raises(ConfigError, match="wavenet or lstm"):
            check(RunConfig(data=DataConfig(representation=rep), model=ModelConfig(arch="classic-lstm")))
    for arch in ARCHITECTURES:
        assert (
            check(RunConfig(data=DataConfig(representation="classic"), model=ModelConfig(arch=arch))).name == "classic"
        )


def test_the_classic_models_rule_is_written_once():
    """The tutorial's models read only the classic tokens; every other model keeps what was chosen."""
    assert for_arch("classic-wavenet", "timed") == "classic"
    assert for_arch("classic-lstm", "pianoroll") == "classic"
    assert for_arch("wavenet", "pianoroll") == "pianoroll"
    assert for_arch("lstm", "classic") == "classic"


@pytest.mark.parametrize("name", NAMES)
def test_every_representation_round_trips_a_chorale_and_keeps_its_contract(name, chorales):
    cfg = DataConfig(representation=name)
    rep = for_config(cfg)
    piece = chorales[0]
    seq = rep.sequence(piece)
    rep.fit_vocab([seq])
    ids = rep.ids(seq)
    assert len(ids) >= rep.min_seed and rep.decode(ids).n_notes > 0
    again = for_vocab(rep.vocab)  # what a run folder gives back
    assert type(again) is type(rep) and again.output_width() == rep.output_width()
    np.testing.assert_array_equal(again.ids(again.sequence(piece)), ids)
    assert rep.time_cursor(ids) > 0 and rep.tokens_per_beat([ids]) > 0
    known, total = rep.known(piece)
    assert 0 < known <= total
    start = rep.start()
    assert len(start) == 1
    logits = np.zeros((3, rep.output_width()))
    drawn = rep.sample(logits, SamplingConfig(seed=0), np.random.default_rng(0))
    assert drawn.shape[0] == 3
    assert rep.uniform_nll() > 0 and rep.unit in ("token", "frame", "event") and rep.units == rep.unit + "s"


def test_outside_the_representations_package_at_most_five_places_name_a_representation():
    # a representation's name in quotes, or a branch on the tutorial's model family (its definitions aside)
    pattern = re.compile(
        r"[\"'](timed|classic|pianoroll)[\"']|(?<!def )is_classic\(|startswith\([\"']classic|\.frames\b"
    )
    files = [*ROOT.joinpath("musegen").rglob("*.py"), *ROOT.joinpath("pages").glob("*.py"), ROOT / "streamlit_app.py"]
    hits = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in files
        if "representations" not in path.parts
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert len(hits) <= 5, hits
