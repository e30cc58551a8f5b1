"""Piano-roll models with the NADE head: built on every backbone, saved and reloaded, decoded step by step
exactly as the full forward pass scores, and refused where they do not apply."""

from __future__ import annotations

import keras  # noqa: F401  (a hard dependency: a broken install fails, never skips)
import numpy as np
import pytest

from musegen.config import DataConfig, ModelConfig, RunConfig, SamplingConfig
from musegen.errors import ConfigError
from musegen.generation.decode import generate_frames
from musegen.models import build_frame_model, has_nade_head, load_model
from musegen.models.incremental import NadeStepper, make_stepper
from musegen.representations.registry import check

pytestmark = pytest.mark.slow  # builds and runs real models

KEYS = 88
BACKBONES = {
    "wavenet": ModelConfig(arch="wavenet", embed_dim=8, channels=8, skip_channels=8, dilation_cycle=3, dropout=0.2),
    "lstm": ModelConfig(arch="lstm", embed_dim=8, units=12, layers=2, dropout=0.2),
    "transformer": ModelConfig(arch="transformer", embed_dim=8, d_model=16, heads=2, transformer_layers=1),
}


def nade(arch: str) -> ModelConfig:
    cfg = BACKBONES[arch]
    cfg.head, cfg.nade_hidden = "nade", 16
    return cfg


def frames(rng: np.random.Generator, batch: int, length: int) -> np.ndarray:
    return (rng.random((batch, length, KEYS)) < 0.06).astype(np.float32)


@pytest.mark.parametrize("arch", list(BACKBONES))
def test_generation_draws_frames_whose_conditionals_equal_the_full_forward_pass(arch):
    """The stepper's logits for each drawn frame equal the teacher-forced model on the whole drawn piece."""
    model = build_frame_model(nade(arch), KEYS, window=32)
    assert has_nade_head(model) and model.inputs[0].shape[-1] == 2 * KEYS
    rng = np.random.default_rng(1)
    seed = frames(rng, 2, 5)
    stepper = make_stepper(model, 2)
    assert isinstance(stepper, NadeStepper)
    cfg = SamplingConfig(length=12, variations=2, temperature=1.0, seed=3)
    features, drawn, logits = stepper.prime(seed), [], []
    for i in range(cfg.length):
        drawn.append(stepper.draw(features, cfg, rng))
        logits.append(stepper.last_logits)
        if i + 1 < cfg.length:
            features = stepper.step(drawn[-1])
    piece = np.concatenate([seed, np.stack(drawn, 1).astype(np.float32)], axis=1)
    full = np.asarray(model(np.concatenate([piece[:, :-1], piece[:, 1:]], -1), training=False))
    np.testing.assert_allclose(np.stack(logits, 1), full[:, seed.shape[1] - 1 :], atol=1e-4)


def test_generate_frames_with_a_nade_model_is_reproducible_and_honours_top_k():
    model = build_frame_model(nade("wavenet"), KEYS)
    cfg = SamplingConfig(length=10, variations=3, temperature=1.2, top_k=2, seed=7)
    a = generate_frames(model, np.zeros((1, KEYS), np.uint8), cfg)
    b = generate_frames(model, np.zeros((1, KEYS), np.uint8), cfg)
    assert len(a) == 3 and a[0].shape == (10, KEYS) and a[0].dtype == np.uint8
    np.testing.assert_array_equal(np.stack(a), np.stack(b))
    assert np.stack(a).sum(-1).max() <= 2


def test_a_nade_model_saves_and_reloads_in_safe_mode(tmp_path):
    model = build_frame_model(nade("lstm"), KEYS)
    x = frames(np.random.default_rng(0), 2, 9)
    xy = np.concatenate([x[:, :-1], x[:, 1:]], -1)
    path = tmp_path / "m.keras"
    model.save(path)
    again = load_model(path)
    np.testing.assert_allclose(np.asarray(again(xy)), np.asarray(model(xy)), atol=1e-6)
    assert has_nade_head(again)


def test_the_nade_head_needs_the_piano_roll():
    config = RunConfig(data=DataConfig(representation="timed"), model=ModelConfig(head="nade"))
    with pytest.raises(ConfigError, match="piano-roll"):
        check(config)
    with pytest.raises(ConfigError, match="head"):
        ModelConfig(head="mixture").validate()
    check(RunConfig(data=DataConfig(representation="pianoroll"), model=ModelConfig(head="nade")))


def test_an_old_config_without_a_head_reads_as_independent():
    old = RunConfig().to_dict()
    del old["model"]["head"], old["model"]["nade_hidden"]
    assert RunConfig.from_dict(old).model.head == "independent"
