"""The four architectures: shapes, causality, receptive field, learning, save/load, refusal of bad files."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from musegen.config import ModelConfig
from musegen.errors import ConfigError, ModelLoadError
from musegen.models import build_model, is_classic, load_model, model_summary, receptive_field

V = 24
WINDOW = 16
TINY = {
    "wavenet": ModelConfig(
        arch="wavenet", embed_dim=8, channels=8, skip_channels=12, kernel_size=3, dilation_cycle=3, stacks=2
    ),
    "lstm": ModelConfig(arch="lstm", embed_dim=8, units=12, layers=2),
    "classic-wavenet": ModelConfig(arch="classic-wavenet"),
    "classic-lstm": ModelConfig(arch="classic-lstm"),
}
SEQUENCE_ARCHS = ("wavenet", "lstm")


def tokens(batch: int, length: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, V, (batch, length)).astype(np.int32)


def model_input(arch: str, batch: int = 2, seed: int = 0) -> np.ndarray:
    if is_classic(arch):
        return (tokens(batch, WINDOW, seed) / V).astype(np.float32)[..., None]
    return tokens(batch, 40, seed)


@pytest.mark.parametrize("arch", SEQUENCE_ARCHS)
@pytest.mark.parametrize("length", [1, 7, 40])
def test_sequence_models_give_float32_logits_for_any_length(arch, length):
    model = build_model(TINY[arch], V, WINDOW)
    out = model(tokens(3, length), training=False)
    assert tuple(out.shape) == (3, length, V)
    assert out.dtype == "float32"
    assert not np.allclose(np.asarray(out).sum(-1), 1.0)  # logits, not probabilities


@pytest.mark.parametrize("arch", ["classic-wavenet", "classic-lstm"])
def test_classic_models_give_one_softmax_per_window(arch):
    model = build_model(TINY[arch], V, WINDOW)
    assert tuple(model.inputs[0].shape) == (None, WINDOW, 1)
    probs = np.asarray(model(model_input(arch, 3), training=False))
    assert probs.shape == (3, V)
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-5)


def test_classic_layer_sizes_follow_the_tutorial():
    conv = [layer for layer in build_model(TINY["classic-wavenet"], V, 128).layers if "conv1d" in layer.name]
    assert [(c.filters, c.kernel_size[0], c.dilation_rate[0]) for c in conv] == [(64, 3, 1), (128, 3, 2), (256, 3, 4)]
    lstms = [layer for layer in build_model(TINY["classic-lstm"], V, 128).layers if "lstm" in layer.name]
    assert [layer.units for layer in lstms] == [128, 128]


@pytest.mark.parametrize("arch", SEQUENCE_ARCHS)
def test_a_future_token_never_changes_past_logits(arch):
    model = build_model(TINY[arch], V, WINDOW)
    x = tokens(2, 40)
    changed = x.copy()
    changed[:, 20] = (changed[:, 20] + 1) % V
    a, b = np.asarray(model(x)), np.asarray(model(changed))
    np.testing.assert_array_equal(a[:, :20], b[:, :20])
    assert not np.allclose(a[:, 20], b[:, 20])


def test_wavenet_receptive_field_is_exact():
    cfg = TINY["wavenet"]
    model = build_model(cfg, V, WINDOW)
    rf = receptive_field(model)
    assert rf == cfg.receptive_field() == 1 + 2 + 2 * 2 * 7  # kernel 3, dilations 1,2,4 twice
    x = tokens(1, rf + 5)
    changed = x.copy()
    changed[:, 0] = (changed[:, 0] + 1) % V
    a, b = np.asarray(model(x)), np.asarray(model(changed))
    assert not np.allclose(a[:, rf - 1], b[:, rf - 1])  # the oldest token still reaches position rf - 1
    np.testing.assert_array_equal(a[:, rf:], b[:, rf:])  # and no further


def test_default_wavenet_covers_the_window_and_summary_says_so():
    cfg = ModelConfig()
    model = build_model(cfg, V, 128)
    text = model_summary(model, window=128)
    assert "Receptive field: 129 tokens" in text
    assert "dilations [1, 2, 4, 8, 16, 32, 64]" in text
    assert "WARNING" in model_summary(model, window=256)


def test_bad_settings_are_refused():
    with pytest.raises(ConfigError):
        build_model(ModelConfig(arch="gpt"), V, WINDOW)
    with pytest.raises(ConfigError):
        build_model(TINY["classic-wavenet"], V, 4)
    assert is_classic("classic-lstm") and not is_classic("wavenet")


def _train(model, arch: str, epochs: int) -> list[float]:
    """A few epochs on a repeating 6-token motif; returns the loss per epoch."""
    motif = np.array([3, 20, 8, 15, 11, 22])  # spread out, so the classic scalar inputs differ clearly
    stream = np.tile(motif, 40)
    if is_classic(arch):
        starts = np.arange(len(stream) - WINDOW)
        x = (np.stack([stream[s : s + WINDOW] for s in starts]) / V).astype(np.float32)[..., None]
        y = stream[starts + WINDOW].astype(np.int32)
        loss = keras.losses.SparseCategoricalCrossentropy()
    else:
        starts = np.arange(0, len(stream) - 33, 3)
        x = np.stack([stream[s : s + 32] for s in starts]).astype(np.int32)
        y = np.stack([stream[s + 1 : s + 33] for s in starts]).astype(np.int32)
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    keras.utils.set_random_seed(0)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=loss)
    return model.fit(x, y, batch_size=16, epochs=epochs, verbose=0).history["loss"]


@pytest.mark.slow
@pytest.mark.parametrize("arch", list(TINY))
def test_loss_falls_on_a_repeating_motif(arch):
    keras.utils.set_random_seed(0)
    epochs = 12 if is_classic(arch) else 6  # the tutorial's scalar input learns slowly
    losses = _train(build_model(TINY[arch], V, WINDOW), arch, epochs=epochs)
    assert losses[-1] < 0.6 * losses[0], losses


@pytest.mark.slow
@pytest.mark.parametrize("arch", list(TINY))
def test_saved_model_reloads_safely_with_identical_predictions(arch, tmp_path):
    keras.utils.set_random_seed(1)
    model = build_model(TINY[arch], V, WINDOW)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = load_model(path)
    x = model_input(arch, 3, seed=5)
    np.testing.assert_array_equal(np.asarray(model(x)), np.asarray(loaded(x)))


@pytest.mark.slow
def test_a_trained_checkpoint_reloads_with_its_optimizer(tmp_path):
    model = build_model(TINY["lstm"], V, WINDOW)
    _train(model, "lstm", epochs=1)
    path = tmp_path / "last.keras"
    model.save(path)
    loaded = load_model(path, compile=True)
    assert int(loaded.optimizer.iterations) == int(model.optimizer.iterations) > 0
    x = model_input("lstm", 2)
    np.testing.assert_array_equal(np.asarray(model(x)), np.asarray(loaded(x)))


def test_truncated_text_and_missing_files_give_the_domain_error(tmp_path):
    model = build_model(TINY["lstm"], V, WINDOW)
    good = tmp_path / "model.keras"
    model.save(good)
    truncated = tmp_path / "truncated.keras"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    text = tmp_path / "notes.keras"
    text.write_text("this is not a model\n")
    for path in (truncated, text, tmp_path / "missing.keras"):
        with pytest.raises(ModelLoadError, match="model"):
            load_model(path)


@pytest.mark.slow
def test_a_model_with_a_lambda_layer_is_refused(tmp_path):
    inputs = keras.Input(shape=(4,))
    outputs = keras.layers.Lambda(lambda x: x * 2.0)(inputs)
    path = tmp_path / "lambda.keras"
    keras.Model(inputs, outputs).save(path)
    with pytest.raises(ModelLoadError, match="Lambda"):
        load_model(path)


@pytest.mark.slow
def test_a_foreign_custom_layer_is_refused(tmp_path):
    class Foreign(keras.layers.Layer):  # not registered: Keras cannot rebuild it
        def call(self, x):
            return x

    inputs = keras.Input(shape=(4,))
    path = tmp_path / "foreign.keras"
    keras.Model(inputs, Foreign()(inputs)).save(path)
    with pytest.raises(ModelLoadError, match="Only models trained by musegen"):
        load_model(path)


def test_thread_settings_come_from_the_environment_and_are_set_once(monkeypatch):
    from musegen import tf_setup

    monkeypatch.setenv(tf_setup.THREADS_ENV, "3")
    assert tf_setup.default_threads() == 3
    monkeypatch.setenv(tf_setup.THREADS_ENV, "many")
    assert 1 <= tf_setup.default_threads() <= 4
    first = tf_setup.configure_tensorflow()  # models were built already: TF is configured
    assert tf_setup.configure_tensorflow(threads=7) == first


@pytest.mark.slow
def test_tensorflow_starts_quietly_with_the_threads_asked_for():
    import os
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from musegen.models import build_model\n"
        "from musegen import tf_setup\n"
        "import tensorflow as tf\n"
        "print('threads', tf_setup.configure_tensorflow(), tf.config.threading.get_intra_op_parallelism_threads())\n"
        "print('a warning of our own', file=sys.stderr)\n"
    )
    env = {**os.environ, "MUSEGEN_TF_THREADS": "3"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "threads 3 3" in proc.stdout  # probing the devices did not fix the thread pools
    assert proc.stderr.strip() == "a warning of our own"  # no oneDNN, CUDA or absl start-up lines


def test_only_known_startup_chatter_is_dropped():
    from musegen.tf_setup import without_startup_chatter

    text = (
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
        "I0000 00:00:1.2 1 port.cc:153] oneDNN custom operations are on. You may see slightly different\n"
        "E0000 00:00:1.3 1 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error\n"
        "\n"
        "ImportError: libcudnn.so.9: cannot open shared object file\n"
    )
    assert without_startup_chatter(text) == "ImportError: libcudnn.so.9: cannot open shared object file\n"
