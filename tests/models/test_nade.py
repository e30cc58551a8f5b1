"""The NADE head: its teacher-forced logits are the exact NLL, its sampler draws from that distribution."""

from __future__ import annotations

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from musegen.models.losses import FrameNLL
from musegen.models.nade import NADEHead


def head(keys: int, hidden: int, features: int, seed: int = 0, scale: float = 1.0) -> NADEHead:
    """A built head with normal(0, ``scale``) weights from ``seed``, biases included."""
    layer = NADEHead(keys, hidden)
    layer.build([(None, None, features), (None, None, keys)])
    rng = np.random.default_rng(seed)
    layer.set_weights([rng.normal(0.0, scale, w.shape).astype(np.float32) for w in layer.get_weights()])
    return layer


def all_frames(keys: int) -> np.ndarray:
    """The 2^K frames of K keys, (2^K, K) float32."""
    return np.array(list(itertools.product([0.0, 1.0], repeat=keys)), dtype=np.float32)


def frame_probabilities(layer: NADEHead, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(frames (2^K, K), p(frame | features)) for one features row (D,), from the teacher-forced logits."""
    frames = all_frames(layer.keys)
    rows = np.repeat(features[None, None, :], len(frames), axis=1)  # (1, 2^K, D)
    logits = np.asarray(layer([rows, frames[None]]))[0].astype(np.float64)
    log_p = np.sum(frames * -np.logaddexp(0, -logits) + (1 - frames) * -np.logaddexp(0, logits), axis=-1)
    return frames, np.exp(log_p)


def sampler(layer: NADEHead):
    """``layer.sample`` as one XLA-compiled function."""
    return tf.function(layer.sample, jit_compile=True)


def draw(fn, features: np.ndarray, keys: int, seed: int, temperature: float = 1.0, top_k: int = 0):
    """One frame per features row from the compiled sampler ``fn``, numpy uniforms from ``seed``."""
    uniforms = np.random.default_rng(seed).random((features.shape[0], keys)).astype(np.float32)
    frames, logits = fn(
        tf.constant(features, tf.float32), tf.constant(uniforms), tf.constant(temperature), tf.constant(top_k)
    )
    return np.asarray(frames), np.asarray(logits)


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


# ------------------------------------------------------------------ the likelihood


def test_frame_nll_is_the_exact_nade_likelihood():
    keys, hidden = 4, 2
    layer = NADEHead(keys, hidden)
    layer.build([(None, None, 2), (None, None, keys)])
    kernel = np.array([[0.5, -1.0, 0.3, 0.8, 1.2, -0.4], [-0.7, 0.2, 0.9, -0.3, 0.1, 0.6]], np.float32)  # (D, K + H)
    bias = np.array([0.1, -0.2, 0.3, 0.0, -0.5, 0.25], np.float32)
    w = np.array([[1.0, -2.0], [0.5, 0.5], [-1.5, 1.0], [0.3, -0.7]], np.float32)
    v = np.array([[0.4, 1.1], [-0.9, 0.6], [1.3, -0.2], [0.7, 0.8]], np.float32)
    layer.conditioning_kernel.assign(kernel)
    layer.conditioning_bias.assign(bias)
    layer.w.assign(w)
    layer.v.assign(v)

    features = np.array([[[0.3, -1.2], [1.5, 0.4]]], np.float32)  # (1, 2, D): two frames
    targets = np.array([[[1, 0, 1, 1], [0, 1, 1, 0]]], np.float32)
    expected = []
    for f, x in zip(features[0], targets[0], strict=True):
        z = f.astype(np.float64) @ kernel + bias
        b, c = z[:keys], z[keys:]
        p = 1.0
        a = c.copy()  # a_0 = c: nothing below key 0
        for k in range(keys):
            p_on = sigmoid(b[k] + v[k] @ sigmoid(a))
            p *= p_on if x[k] else 1.0 - p_on
            a = a + x[k] * w[k]  # a_{k+1} = a_k + x_k W_k
        expected.append(-np.log(p))

    logits = layer([features, targets])
    assert logits.dtype == "float32" and tuple(logits.shape) == (1, 2, keys)
    per_frame = np.asarray(FrameNLL(reduction=None)(targets, logits))[0]
    np.testing.assert_allclose(per_frame, expected, atol=1e-5)
    np.testing.assert_allclose(float(FrameNLL()(targets, logits)), np.mean(expected), atol=1e-5)

    for row in features[0]:
        _, p = frame_probabilities(layer, row)
        assert abs(p.sum() - 1.0) < 1e-5


def test_keys_above_do_not_change_a_key_s_logit():
    """Autoregressive over keys: key k's conditional depends on the targets of keys < k only."""
    layer = head(6, 3, 2, seed=1)
    rng = np.random.default_rng(1)
    features = rng.normal(size=(2, 5, 2)).astype(np.float32)
    targets = (rng.random((2, 5, 6)) < 0.5).astype(np.float32)
    base = np.asarray(layer([features, targets]))
    for k in range(6):
        flipped = targets.copy()
        flipped[..., k] = 1.0 - flipped[..., k]
        out = np.asarray(layer([features, flipped]))
        np.testing.assert_allclose(out[..., : k + 1], base[..., : k + 1], atol=1e-6)
        if k + 1 < 6:
            assert not np.allclose(out[..., k + 1 :], base[..., k + 1 :])


def test_a_mixed_precision_head_returns_float32_close_to_float32():
    layer = head(5, 4, 3, seed=2)
    mixed = NADEHead(5, 4, dtype="mixed_bfloat16")
    mixed.build([(None, None, 3), (None, None, 5)])
    mixed.set_weights(layer.get_weights())
    rng = np.random.default_rng(2)
    features = rng.normal(size=(2, 3, 3)).astype(np.float32)
    targets = (rng.random((2, 3, 5)) < 0.5).astype(np.float32)
    out = mixed([features, targets])
    assert out.dtype == "float32"
    np.testing.assert_allclose(np.asarray(out), np.asarray(layer([features, targets])), atol=0.1)


def _frames_with_edge_cases(rng: np.random.Generator, batch: int, time: int, keys: int) -> np.ndarray:
    """Random sparse frames, one empty, one with every key on, one with a single key (the lowest)."""
    frames = (rng.random((batch, time, keys)) < 0.1).astype(np.float32)
    frames[0, 0], frames[0, 1], frames[-1, -1] = 0.0, 1.0, 0.0
    frames[-1, -1, 0] = 1.0
    return frames


def _logits_and_gradients(layer: NADEHead, read, features, targets, weights) -> list:
    """The logits ``b + read(x, c)`` and the gradients of ``sum(logits * weights)`` w.r.t. the weights and features."""
    features = tf.convert_to_tensor(features)
    with tf.GradientTape() as tape:
        tape.watch(features)
        b, c = layer.conditioning(features)
        logits = tf.cast(b + read(tf.cast(targets, layer.compute_dtype), c), "float32")
        loss = tf.reduce_sum(logits * weights)
    grads = tape.gradient(loss, [layer.conditioning_kernel, layer.conditioning_bias, layer.w, layer.v, features])
    return [logits, *grads]


@pytest.mark.parametrize("dtype", ["float32", "mixed_float16"])
@pytest.mark.parametrize("graph", [False, True])
def test_the_form_by_rank_equals_the_form_by_key_with_its_gradients(dtype, graph):
    """One hidden layer per rank (keys on below) gives the logits and gradients of one per key."""
    keys, hidden, features_dim = 88, 16, 8
    layer = NADEHead(keys, hidden, dtype=dtype)
    layer.build([(None, None, features_dim), (None, None, keys)])
    rng = np.random.default_rng(20)
    layer.set_weights([rng.normal(0.0, 0.5, w.shape).astype(np.float32) for w in layer.get_weights()])
    features = rng.normal(size=(3, 9, features_dim)).astype(np.float32)
    weights = tf.constant(rng.normal(size=(3, 9, keys)).astype(np.float32))
    tol = {"float32": 1e-4, "mixed_float16": 3e-2}[dtype]
    for targets in (
        _frames_with_edge_cases(rng, 3, 9, keys),
        np.zeros((3, 9, keys), np.float32),
        np.ones((3, 9, keys), np.float32),
    ):
        run = tf.function(_logits_and_gradients) if graph else _logits_and_gradients
        by_key = run(layer, layer._read_by_key, features, tf.constant(targets), weights)
        by_rank = run(layer, layer._read_by_rank, features, tf.constant(targets), weights)
        for a, b in zip(by_rank, by_key, strict=True):
            a, b = np.asarray(a), np.asarray(b)
            np.testing.assert_allclose(a, b, atol=tol * max(1.0, float(np.max(np.abs(b)))))


def test_under_xla_the_head_takes_the_static_form_and_gives_the_same_logits():
    layer = head(88, 8, 4, seed=21, scale=0.5)
    rng = np.random.default_rng(21)
    features = rng.normal(size=(2, 6, 4)).astype(np.float32)
    targets = _frames_with_edge_cases(rng, 2, 6, 88)
    eager = np.asarray(layer([features, targets]))
    compiled = tf.function(lambda f, x: layer([f, x]), jit_compile=True)
    np.testing.assert_allclose(np.asarray(compiled(features, targets)), eager, atol=1e-4)


# ------------------------------------------------------------------ sampling


@pytest.fixture(scope="module")
def three_keys():
    """A fixed 3-key head, one features row, and its compiled sampler (traced once for all the tests)."""
    layer = head(3, 4, 2, seed=3)
    features = np.array([0.4, -0.8], np.float32)
    return layer, features, sampler(layer)


def _chi_square(observed: np.ndarray, expected: np.ndarray) -> float:
    return float(np.sum((observed - expected) ** 2 / expected))


@pytest.mark.parametrize(("temperature", "top_k"), [(1.0, 0), (1.6, 0), (1.0, 1)])
def test_samples_follow_the_exact_distribution(three_keys, temperature, top_k):
    """Chi-square of 20,000 compiled draws against the exact frame probabilities (2^3 frames).

    Temperature divides every conditional logit; top-k forces the keys above off once k are on.
    """
    layer, features, fn = three_keys
    n = 20_000
    frames, p_true = frame_probabilities(layer, features)
    # the sampler's own distribution, from the conditionals of call on each frame
    rows = np.repeat(features[None, None, :], len(frames), axis=1)
    logits = np.asarray(layer([rows, frames[None]]))[0].astype(np.float64)
    on = sigmoid(logits / temperature)
    below = np.cumsum(frames, axis=-1) - frames  # keys on below each key
    free = below < top_k if top_k else np.ones_like(frames, dtype=bool)
    p_key = np.where(free, np.where(frames == 1, on, 1 - on), np.where(frames == 1, 0.0, 1.0))
    p = np.prod(p_key, axis=-1)
    assert abs(p.sum() - 1.0) < 1e-6
    if temperature == 1.0 and not top_k:
        np.testing.assert_allclose(p, p_true, atol=1e-6)

    drawn, _ = draw(fn, np.repeat(features[None], n, axis=0), 3, seed=4, temperature=temperature, top_k=top_k)
    index = drawn.astype(int) @ (2 ** np.arange(2, -1, -1))  # frame -> its row in all_frames
    observed = np.bincount(index, minlength=8).astype(np.float64)
    possible = p > 0
    assert observed[~possible].sum() == 0
    expected = n * p[possible]
    assert expected.min() > 20, "the test head should give every possible frame a fair count"
    dof = int(possible.sum()) - 1
    assert _chi_square(observed[possible], expected) < stats.chi2.ppf(0.999, dof)
    assert fn.experimental_get_tracing_count() == 1


@pytest.mark.parametrize(("temperature", "top_k"), [(1.0, 0), (0.7, 3), (0.0, 0)])
def test_sampled_logits_are_the_teacher_forced_logits_of_the_drawn_frame(temperature, top_k):
    layer = head(8, 5, 3, seed=5)
    features = np.random.default_rng(5).normal(size=(16, 3)).astype(np.float32)
    frames, logits = draw(sampler(layer), features, 8, seed=6, temperature=temperature, top_k=top_k)
    assert set(np.unique(frames)) <= {0.0, 1.0} and 0 < frames.sum() < frames.size
    forced = np.asarray(layer([features[:, None], frames[:, None]]))[:, 0]
    np.testing.assert_allclose(logits, forced, atol=1e-5)


def test_greedy_turns_on_exactly_the_keys_with_positive_logits():
    layer = head(8, 5, 3, seed=7)
    features = np.random.default_rng(7).normal(size=(32, 3)).astype(np.float32)
    fn = sampler(layer)
    frames, logits = draw(fn, features, 8, seed=8, temperature=0.0)
    np.testing.assert_array_equal(frames, (logits > 0).astype(np.float32))
    assert 0 < frames.sum() < frames.size
    again, _ = draw(fn, features, 8, seed=9, temperature=-1.0)  # any temperature <= 0, any uniforms
    np.testing.assert_array_equal(again, frames)

    one, _ = draw(fn, features, 8, seed=8, temperature=1.0, top_k=1)
    assert one.sum(axis=-1).max() <= 1


@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_top_1_with_every_key_likely_keeps_only_the_lowest(temperature):
    keys = 6
    layer = head(keys, 4, 3, seed=10, scale=0.1)
    bias = layer.conditioning_bias.numpy()
    bias[:keys] = 20.0  # every conditional logit is about +20
    layer.conditioning_bias.assign(bias)
    features = np.random.default_rng(10).normal(size=(8, 3)).astype(np.float32)
    fn = sampler(layer)
    every, _ = draw(fn, features, keys, seed=11, temperature=temperature)
    np.testing.assert_array_equal(every, 1.0)
    lowest, _ = draw(fn, features, keys, seed=11, temperature=temperature, top_k=1)
    np.testing.assert_array_equal(lowest, np.eye(keys, dtype=np.float32)[[0] * 8])


def test_a_full_size_frame_compiles_with_xla_on_cpu():
    layer = NADEHead(88, 16)
    layer.build([(None, None, 24), (None, None, 88)])
    fn = sampler(layer)
    features = np.random.default_rng(12).normal(size=(4, 24)).astype(np.float32)
    for seed in (13, 14):
        frames, logits = draw(fn, features, 88, seed=seed, temperature=0.9, top_k=10)
        assert frames.shape == (4, 88) and logits.shape == (4, 88)
        assert frames.dtype == np.float32 and logits.dtype == np.float32
        assert set(np.unique(frames)) <= {0.0, 1.0} and frames.sum(axis=-1).max() <= 10
        assert np.isfinite(logits).all()
    assert fn.experimental_get_tracing_count() == 1
    args = (tf.constant(features), tf.zeros((4, 88)), tf.constant(1.0), tf.constant(0), tf.ones((4, 88)))
    hlo = fn.experimental_get_compiler_ir(*args)(stage="hlo")
    assert hlo.count(" while(") == 1  # the keys are one XLA loop, not 88 unrolled steps


def test_keys_not_allowed_never_sound_and_the_keys_above_are_drawn_given_that():
    layer = NADEHead(6, 4)
    layer.build([(None, None, 5), (None, None, 6)])
    features = np.random.default_rng(3).normal(size=(64, 5)).astype(np.float32) * 3
    uniforms = np.random.default_rng(4).random((64, 6)).astype(np.float32)
    allowed = np.tile(np.array([1, 0, 1, 0, 1, 1], np.float32), (64, 1))
    frames, logits = layer.sample(features, uniforms, 1.0, 0, allowed)
    frames, logits = np.asarray(frames), np.asarray(logits)
    assert not frames[:, [1, 3]].any() and frames.any()
    # the conditional logits are the teacher-forced ones of the frame really drawn (the forced-off keys as 0)
    forced = np.asarray(layer([features[:, None], frames[:, None]]))[:, 0]
    np.testing.assert_allclose(logits, forced, rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------ saving


def test_a_model_with_the_head_reloads_safely(tmp_path):
    keys, hidden, length = 5, 3, 7
    keras.utils.set_random_seed(0)
    inputs = keras.Input((None, 4), name="inputs")
    targets = keras.Input((None, keys), name="targets")
    features = keras.layers.Dense(6, activation="tanh")(inputs)
    logits = NADEHead(keys, hidden, name="nade")([features, targets])
    model = keras.Model([inputs, targets], logits)
    assert tuple(logits.shape) == (None, None, keys) and logits.dtype == "float32"

    rng = np.random.default_rng(15)
    x = rng.normal(size=(2, length, 4)).astype(np.float32)
    y = (rng.random((2, length, keys)) < 0.5).astype(np.float32)
    path = tmp_path / "nade.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    nade = loaded.get_layer("nade")
    assert isinstance(nade, NADEHead) and (nade.keys, nade.hidden) == (keys, hidden)
    np.testing.assert_allclose(np.asarray(loaded([x, y])), np.asarray(model([x, y])), atol=1e-6)
