"""The Transformer backbone: causal, its span exact, cached decoding equal to the full forward pass, saved safely."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from musegen.config import DataConfig, ModelConfig, RunConfig, SamplingConfig, TrainConfig
from musegen.errors import ConfigError
from musegen.models import build_frame_model, build_model, load_model, model_summary
from musegen.models.incremental import Stepper, make_stepper
from musegen.models.transformer import (
    TransformerStack,
    _blocked_attention,
    _dense_attention,
    attention_span,
)
from musegen.representations.registry import check

V = 20
SPAN = 16  # the training window of these tests, so the attention span and the cache length
LENGTH = 3 * SPAN  # sequences run well past the cache


def tiny(layers: int = 2, dropout: float = 0.3, **fields: int) -> ModelConfig:
    """A Transformer of a few thousand weights: width 16, two heads of 8."""
    sizes = {"embed_dim": 8, "d_model": 16, "heads": 2, "transformer_layers": layers, "ff_mult": 2, **fields}
    return ModelConfig(arch="transformer", dropout=dropout, **sizes)


def tokens(batch: int, length: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, V, (batch, length)).astype(np.int32)


def frames(batch: int, length: int, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).random((batch, length, 88)) < 0.1).astype(np.float32)


def token_model(layers: int = 2, **fields) -> keras.Model:
    keras.utils.set_random_seed(0)
    return build_model(tiny(layers, **fields), V, SPAN)


# built once: their compiled decoding steps are cached on them, so each test pays no new compilation
@pytest.fixture(scope="module")
def model() -> keras.Model:
    return token_model()


@pytest.fixture(scope="module")
def one_layer() -> keras.Model:
    return token_model(layers=1)


@pytest.fixture(scope="module")
def frame_model() -> keras.Model:
    keras.utils.set_random_seed(0)
    return build_frame_model(tiny(), 88, window=SPAN)


def assert_incremental_matches_full(model, x: np.ndarray, seed_length: int) -> None:
    """The stepper's logits at every position equal ``model(x)`` (which applies the same span)."""
    full = np.asarray(model(x, training=False))
    stepper = make_stepper(model, batch_size=x.shape[0])
    assert isinstance(stepper, Stepper)
    np.testing.assert_allclose(stepper.prime(x[:, :seed_length]), full[:, seed_length - 1], atol=1e-4)
    for t in range(seed_length, x.shape[1]):
        np.testing.assert_allclose(stepper.step(x[:, t]), full[:, t], atol=1e-4, err_msg=f"position {t}")


# ------------------------------------------------------------------ the forward pass


@pytest.mark.parametrize("length", [1, 7, SPAN, LENGTH])
def test_logits_for_any_length(model, length):
    out = model(tokens(3, length), training=False)
    assert tuple(out.shape) == (3, length, V) and out.dtype == "float32"


@pytest.mark.parametrize("length", [SPAN, LENGTH])  # the T x T form and the blocked form
def test_a_future_token_never_changes_past_outputs(model, length):
    x = tokens(2, length)
    changed = x.copy()
    changed[:, 9] = (changed[:, 9] + 1) % V
    a, b = np.asarray(model(x)), np.asarray(model(changed))
    np.testing.assert_array_equal(a[:, :9], b[:, :9])
    assert not np.allclose(a[:, 9], b[:, 9])


@pytest.mark.parametrize("layers", [1, 2])
def test_each_layer_sees_exactly_the_last_span_positions(layers, model, one_layer):
    """Position t of one layer reads t - SPAN + 1 ... t; stacked, the context is layers x (SPAN - 1) + 1."""
    model = one_layer if layers == 1 else model
    context = layers * (SPAN - 1) + 1
    x = tokens(1, context + 5)
    changed = x.copy()
    changed[:, 0] = (changed[:, 0] + 1) % V
    a, b = np.asarray(model(x)), np.asarray(model(changed))
    assert not np.allclose(a[:, context - 1], b[:, context - 1])  # the oldest token still reaches here
    np.testing.assert_array_equal(a[:, context:], b[:, context:])  # and no further


def test_the_blocked_attention_equals_the_full_banded_one():
    rng = np.random.default_rng(0)
    q, k, v = (rng.normal(size=(2, 3, 37, 4)).astype(np.float32) for _ in range(3))  # (B, H, T, D)
    drop = keras.layers.Dropout(0.0)
    for span in (1, 5, 16, 36):
        dense, blocked = _dense_attention(q, k, v, span, drop, False), _blocked_attention(q, k, v, span, drop, False)
        np.testing.assert_allclose(np.asarray(dense), np.asarray(blocked), atol=1e-5, err_msg=f"span {span}")


def test_piano_roll_frames_give_one_logit_per_key(frame_model):
    assert tuple(frame_model(frames(2, LENGTH)).shape) == (2, LENGTH, 88)


# ------------------------------------------------------------------ cached generation


@pytest.mark.parametrize("seed_length", [1, 5, 2 * SPAN - 2])  # the last primes past the cache length
def test_incremental_decoding_equals_the_full_forward_pass_on_tokens(model, seed_length):
    """Past SPAN positions the cache slides; the full forward pass applies the same span, so they stay equal."""
    assert_incremental_matches_full(model, tokens(3, LENGTH, seed_length), seed_length)


@pytest.mark.parametrize("seed_length", [1, SPAN + 4])
def test_incremental_decoding_equals_the_full_forward_pass_on_frames(frame_model, seed_length):
    assert_incremental_matches_full(frame_model, frames(3, LENGTH, seed_length), seed_length)


def test_one_layer_past_the_cache_sees_the_last_span_tokens_wherever_they_sit(one_layer):
    """Rotary positions are relative: with one layer, a step far past the cache gives what a fresh
    forward pass over just the last SPAN tokens (positions 0 ... SPAN - 1) gives."""
    model = one_layer
    x = tokens(3, LENGTH, seed=3)
    stepper = make_stepper(model, batch_size=3)
    stepper.prime(x[:, :1])
    for t in range(1, LENGTH):
        logits = stepper.step(x[:, t])
        if t >= SPAN:
            last = np.asarray(model(x[:, t - SPAN + 1 : t + 1], training=False))[:, -1]
            np.testing.assert_allclose(logits, last, atol=1e-4, err_msg=f"position {t}")


def test_the_cache_is_a_fixed_size_buffer_per_layer(model):
    stack = next(layer for layer in model.layers if isinstance(layer, TransformerStack))
    stepper = make_stepper(model, batch_size=3)
    stepper.prime(tokens(3, 5))
    shapes = [tuple(s.shape) for s in stepper._state]
    assert shapes == [(), *[(3, 2, SPAN, 8)] * 4] and stack.span == SPAN  # position, then keys/values per layer
    for t in range(2 * SPAN):
        stepper.step(np.full(3, t % V))
    assert [tuple(s.shape) for s in stepper._state] == shapes and int(stepper._state[0]) == 5 + 2 * SPAN


def test_generation_runs_past_the_cache(model):
    from musegen.generation.decode import generate_ids
    from musegen.vocabulary import BOS_ID, PAD_ID

    out = generate_ids(model, tokens(1, 4)[0], SamplingConfig(length=2 * SPAN, seed=0, variations=3))
    assert len(out) == 3 and all(len(o) == 2 * SPAN and o.max() < V for o in out)
    assert not np.isin(np.concatenate(out), [PAD_ID, BOS_ID]).any()


# ------------------------------------------------------------------ saving, settings, training


def test_saved_model_reloads_safely_and_still_decodes(model, tmp_path):
    x = tokens(3, LENGTH, seed=5)
    assert_incremental_matches_full(model, x, seed_length=4)  # compiled steps are cached on the model
    model.save(tmp_path / "model.keras")
    loaded = load_model(tmp_path / "model.keras")  # safe_mode=True
    np.testing.assert_array_equal(np.asarray(model(x)), np.asarray(loaded(x)))
    assert loaded.layers[2].get_config() == model.layers[2].get_config()
    assert_incremental_matches_full(loaded, x[:, : SPAN + 2], seed_length=SPAN - 2)  # the reloaded one decodes


def test_the_span_is_the_training_window_unless_set():
    assert attention_span(tiny(), 64) == 64
    assert attention_span(tiny(attention_span=24), 64) == 24
    assert attention_span(tiny(), None) == DataConfig.window
    stack = next(layer for layer in build_model(tiny(), V, 40).layers if isinstance(layer, TransformerStack))
    assert stack.span == 40


def test_summary_describes_the_transformer(model):
    text = model_summary(model, window=SPAN)
    assert "Transformer: 2 pre-LayerNorm blocks of width 16, 2 heads" in text
    assert f"the last {SPAN} steps" in text


@pytest.mark.parametrize(
    "fields",
    [{"heads": 3}, {"d_model": 12, "heads": 4}, {"heads": 0}, {"transformer_layers": 0}, {"attention_span": -1}],
)
def test_bad_transformer_settings_are_refused(fields):
    with pytest.raises(ConfigError):
        tiny(**fields).validate()


def test_an_odd_head_count_is_no_concern_of_other_architectures():
    ModelConfig(arch="wavenet", heads=3).validate()


@pytest.mark.parametrize("representation", ["timed", "pianoroll", "classic"])
def test_the_transformer_reads_every_representation(representation):
    config = RunConfig(data=DataConfig(representation=representation, window=32), model=tiny())
    assert check(config).name == representation


def test_loss_falls_on_a_repeating_motif():
    motif = np.array([3, 19, 8, 15, 11, 17])
    stream = np.tile(motif, 40)
    starts = np.arange(0, len(stream) - 17, 3)
    x = np.stack([stream[s : s + SPAN] for s in starts]).astype(np.int32)
    y = np.stack([stream[s + 1 : s + SPAN + 1] for s in starts]).astype(np.int32)
    model = token_model(layers=1, dropout=0.0)
    model.compile(  # eagerly: tracing the training step would cost more than these dozen steps
        optimizer=keras.optimizers.Adam(1e-2),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        run_eagerly=True,
    )
    losses = model.fit(x, y, batch_size=32, epochs=4, verbose=0).history["loss"]
    assert losses[-1] < 0.5 * losses[0], losses


@pytest.mark.slow
@pytest.mark.parametrize("representation", ["timed", "pianoroll"])
def test_a_tiny_run_trains_and_scores_through_the_library(representation, chorales, tmp_path):
    from musegen import runs
    from musegen.datasets.dataset import build_dataset
    from musegen.training.loop import train

    config = RunConfig(
        data=DataConfig(representation=representation, window=32, stride=16, val_fraction=0.2),
        model=tiny(dropout=0.1),
        train=TrainConfig(epochs=3, batch_size=32, learning_rate=3e-3, patience=0, seed=0),
    )
    dataset = build_dataset(chorales[:10], config.data)
    result = train(config, dataset, runs.create_run(tmp_path, config, dataset.vocab))
    epochs = result.history.epochs
    assert result.status == "finished" and epochs[-1].loss < epochs[0].loss
    assert result.metrics is not None and result.metrics.to_dict()["model"]["nll"] > 0
