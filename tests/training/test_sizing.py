"""The settings of a new training: starting points, the representation an architecture reads, model sizing."""

from __future__ import annotations

import dataclasses

import pytest

from musegen.config import ARCHITECTURES, DataConfig, ModelConfig, RunConfig
from musegen.training import sizing
from musegen.training.presets import preset_config

SETTINGS = (*sizing.TRAIN_SETTINGS, *(s for row in sizing.ADVANCED_SETTINGS for s in row))


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_the_small_start_is_the_demo_preset_on_the_chosen_data(arch):
    data = DataConfig(window=32, val_fraction=0.2)
    config = sizing.starting_config("demo", arch, data)
    preset = preset_config("demo", arch)[0]
    assert config.train == preset.train
    assert config.model.channels == preset.model.channels and config.model.arch == arch
    assert (config.data.window, config.data.val_fraction) == (32, 0.2)  # the dataset's settings, not the preset's
    config.validate()


def test_the_full_start_is_the_library_defaults():
    config = sizing.starting_config("full", "lstm", DataConfig())
    assert config.train == RunConfig().train
    assert dataclasses.replace(config.model, dilation_cycle=7) == ModelConfig(arch="lstm")


def test_a_classic_model_trains_on_classic_tokens_and_the_others_keep_the_choice():
    assert sizing.starting_config(
        "demo", "classic-lstm", DataConfig(representation="pianoroll")
    ).data.representation == ("classic")
    assert sizing.starting_config("demo", "wavenet", DataConfig(representation="pianoroll")).data.representation == (
        "pianoroll"
    )


@pytest.mark.parametrize("window", [8, 64, 128, 500, 2048])
def test_the_wavenet_sees_the_whole_window(window):
    model = sizing.starting_config("demo", "wavenet", DataConfig(window=window)).model
    assert model.receptive_field() >= window or model.dilation_cycle == sizing.MAX_DILATION_CYCLE
    shorter = dataclasses.replace(model, dilation_cycle=model.dilation_cycle - 1)
    assert model.dilation_cycle == 7 or shorter.receptive_field() < window  # the smallest that does (or the preset's)


def test_a_window_too_long_to_see_is_said_in_the_representations_unit():
    config = sizing.starting_config("demo", "wavenet", DataConfig(window=64, representation="pianoroll"))
    assert sizing.window_note(config) == ""
    narrow = dataclasses.replace(config, model=dataclasses.replace(config.model, dilation_cycle=3))
    assert sizing.window_note(narrow).startswith("The WaveNet sees 9 frames, less than the window of 64")
    lstm = dataclasses.replace(narrow, model=dataclasses.replace(narrow.model, arch="lstm"))
    assert sizing.window_note(lstm) == ""


def test_settings_take_their_fields_types_and_the_skip_path_follows_the_channels():
    base = sizing.starting_config("demo", "wavenet", DataConfig())
    values = {
        "epochs": 3.0,
        "learning_rate": 1,
        "max_minutes": 2,
        "val_fraction": 0.25,
        "channels": 16,
        "max_pieces": 8,
    }
    config = sizing.with_settings(base, values)
    assert config.train.epochs == 3 and isinstance(config.train.epochs, int)
    assert isinstance(config.train.learning_rate, float) and isinstance(config.train.max_minutes, float)
    assert config.data.val_fraction == 0.25 and config.data.window == base.data.window
    assert (config.model.channels, config.model.skip_channels) == (16, 32)
    assert config.model.units == base.model.units  # not given: unchanged
    same = sizing.with_settings(base, {"channels": base.model.channels})
    assert same.model.skip_channels == base.model.skip_channels
    assert base.model.channels != 16  # base itself is untouched
    assert (
        sizing.max_pieces(values) == 8
        and sizing.max_pieces({"max_pieces": 0}) is None
        and sizing.max_pieces({}) is None
    )


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name)
def test_every_setting_names_a_field_and_starts_inside_its_bounds(setting):
    config = sizing.starting_config("full", "wavenet", DataConfig())
    value = setting.initial(config)
    assert setting.low <= value <= setting.high
    assert type(value) is type(setting.low) is type(setting.high)  # Streamlit refuses mixed int and float
    if setting.section:
        assert hasattr(getattr(config, setting.section), setting.name)
    assert set(setting.archs) <= set(ARCHITECTURES)


def test_the_labels_cover_every_architecture():
    assert set(sizing.ARCH_LABELS) == set(ARCHITECTURES)
    assert set(sizing.STARTS) == {"demo", "full"}
