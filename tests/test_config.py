"""Configs round-trip through JSON and refuse bad values with a clear message."""

from __future__ import annotations

import pytest

from musegen.config import DataConfig, Limits, ModelConfig, RunConfig, SamplingConfig, TrainConfig
from musegen.errors import ConfigError


def test_run_config_json_round_trip():
    cfg = RunConfig(
        data=DataConfig(representation="classic", transpose=(-3, 2), programs=(0, 40)),
        model=ModelConfig(arch="lstm", units=32),
        train=TrainConfig(epochs=3),
    )
    again = RunConfig.from_json(cfg.to_json())
    assert again == cfg
    assert isinstance(again.data.transpose, tuple)


def test_unknown_keys_are_ignored_and_broken_json_is_a_config_error():
    cfg = RunConfig.from_dict({"data": {"window": 64, "from_the_future": 1}})
    assert cfg.data.window == 64
    with pytest.raises(ConfigError):
        RunConfig.from_json("{not json")


@pytest.mark.parametrize(
    ("obj", "match"),
    [
        (DataConfig(val_fraction=1.0), "val_fraction"),
        (DataConfig(transpose=(3, -3)), "transpose"),
        (ModelConfig(arch="gpt"), "arch"),
        (TrainConfig(batch_size=0), "batch_size"),
        (TrainConfig(learning_rate=-1.0), "learning_rate"),
        (SamplingConfig(top_p=0.0), "top_p"),
        (SamplingConfig(temperature=-1.0), "temperature"),
        (SamplingConfig(length=0), "length"),
    ],
)
def test_bad_values_are_refused(obj, match):
    with pytest.raises(ConfigError, match=match):
        obj.validate()


def test_limits_from_environment(monkeypatch):
    monkeypatch.setenv("MUSEGEN_MAX_FILES", "7")
    assert Limits.from_env().max_files == 7
    monkeypatch.setenv("MUSEGEN_MAX_FILES", "many")
    with pytest.raises(ConfigError, match="MUSEGEN_MAX_FILES"):
        Limits.from_env()


def test_default_wavenet_sees_the_whole_window():
    assert ModelConfig().receptive_field() >= DataConfig().window
