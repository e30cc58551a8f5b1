"""Incremental decoding equals the full forward pass, position by position."""

from __future__ import annotations

import keras  # noqa: F401  (a hard dependency: a broken install fails, never skips)
import numpy as np
import pytest

from musegen.config import ModelConfig
from musegen.models import build_model, load_model
from musegen.models.incremental import ClassicStepper, Stepper, make_stepper

pytestmark = pytest.mark.slow  # trains real models or runs real processes: `pytest -m "not slow"` skips it

V = 20
LENGTH = 48


def wavenet(kernel_size: int, stacks: int = 2) -> ModelConfig:
    return ModelConfig(
        arch="wavenet",
        embed_dim=8,
        channels=8,
        skip_channels=12,
        kernel_size=kernel_size,
        dilation_cycle=3,
        stacks=stacks,
        dropout=0.3,
    )


CASES = {
    "wavenet-k2-stacks2": wavenet(2),
    "wavenet-k3-stacks2": wavenet(3),
    "lstm": ModelConfig(arch="lstm", embed_dim=8, units=12, layers=2, dropout=0.3),
}


def assert_incremental_matches_full(model, x: np.ndarray, seed_length: int) -> None:
    full = np.asarray(model(x, training=False))
    stepper = make_stepper(model, batch_size=x.shape[0])
    logits = stepper.prime(x[:, :seed_length])
    np.testing.assert_allclose(logits, full[:, seed_length - 1], atol=1e-4)
    for t in range(seed_length, x.shape[1]):
        logits = stepper.step(x[:, t])
        np.testing.assert_allclose(logits, full[:, t], atol=1e-4, err_msg=f"position {t}")


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("seed_length", [1, 5, 30])  # 30 > the k=2 receptive field (16)
def test_incremental_equals_full_forward(name, seed_length):
    model = build_model(CASES[name], V, 16)
    x = np.random.default_rng(seed_length).integers(0, V, (3, LENGTH)).astype(np.int32)
    assert isinstance(make_stepper(model, 3), Stepper)
    assert_incremental_matches_full(model, x, seed_length)


def test_a_decoded_model_still_saves_and_the_reloaded_one_decodes(tmp_path):
    model = build_model(CASES["wavenet-k3-stacks2"], V, 16)
    x = np.random.default_rng(0).integers(0, V, (2, 24)).astype(np.int32)
    assert_incremental_matches_full(model, x, seed_length=4)  # caches compiled steps on the model
    model.save(tmp_path / "model.keras")
    loaded = load_model(tmp_path / "model.keras")
    assert_incremental_matches_full(loaded, x, seed_length=4)


def test_two_steppers_on_one_model_keep_their_own_state():
    model = build_model(CASES["lstm"], V, 16)
    x = np.random.default_rng(0).integers(0, V, (2, 12)).astype(np.int32)
    full = np.asarray(model(x))
    a, b = make_stepper(model, 2), make_stepper(model, 2)
    a.prime(x[:, :4])
    b.prime(x[:, :8])
    np.testing.assert_allclose(a.step(x[:, 4]), full[:, 4], atol=1e-4)
    np.testing.assert_allclose(b.step(x[:, 8]), full[:, 8], atol=1e-4)


@pytest.mark.parametrize("arch", ["classic-wavenet", "classic-lstm"])
def test_classic_stepper_slides_a_padded_window(arch):
    window = 8
    model = build_model(ModelConfig(arch=arch), V, window)
    stepper = make_stepper(model, batch_size=2)
    assert isinstance(stepper, ClassicStepper)
    ids = np.random.default_rng(1).integers(3, V, (2, 12))

    def expected(history: np.ndarray) -> np.ndarray:
        padded = np.zeros((2, window))
        tail = history[:, -window:]
        padded[:, window - tail.shape[1] :] = tail
        return np.log(np.asarray(model((padded / V).astype(np.float32)[..., None])))

    np.testing.assert_allclose(stepper.prime(ids[:, :3]), expected(ids[:, :3]), atol=1e-5)  # shorter: padded
    for t in range(3, 12):
        np.testing.assert_allclose(stepper.step(ids[:, t]), expected(ids[:, : t + 1]), atol=1e-5)


def test_step_before_prime_and_wrong_batch_are_refused():
    stepper = make_stepper(build_model(CASES["lstm"], V, 16), batch_size=2)
    with pytest.raises(RuntimeError, match="prime"):
        stepper.step(np.array([3, 4]))
    with pytest.raises(ValueError, match="prime expects"):
        stepper.prime(np.ones((3, 4), np.int32))


def test_steps_fall_back_to_plain_compilation_where_xla_cannot(caplog):
    import tensorflow as tf

    from musegen.models.incremental import _Compiled

    step = _Compiled(lambda x: tf.strings.length(tf.strings.as_string(x)))  # string ops have no XLA kernel
    assert int(step(tf.constant([1.5]))[0]) == len("1.500000")
    assert "XLA could not compile" in caplog.text
    assert int(step(tf.constant([2.5]))[0]) == len("2.500000")
