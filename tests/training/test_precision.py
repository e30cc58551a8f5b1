"""Mixed precision and XLA: ``TrainConfig.precision`` / ``jit_compile``, ``--precision`` / ``--xla``.

A CPU has no fast float16 kernels, but it runs them: these tests train for real in 16 bits
here, and the GPU figures live in BENCHMARKS.md (benchmarks/bench_gpu.py).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from musegen import runs
from musegen.config import ModelConfig, RunConfig, SamplingConfig, TrainConfig
from musegen.datasets.dataset import build_dataset
from musegen.errors import ConfigError
from tests.training_helpers import tiny_config


@pytest.fixture(scope="module")
def timed_data(chorales):
    return build_dataset(chorales[:10], tiny_config().data)


@pytest.mark.parametrize(
    "arch, model",
    [
        ("wavenet", ModelConfig(arch="wavenet", embed_dim=16, channels=16, skip_channels=16, dilation_cycle=5)),
        ("lstm", ModelConfig(arch="lstm", embed_dim=16, units=16, layers=1)),
        ("transformer", ModelConfig(arch="transformer", d_model=32, heads=2, transformer_layers=1)),
    ],
)
@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_a_mixed_model_computes_in_16_bits_and_its_float32_copy_agrees(arch, model, policy):
    import keras

    from musegen.models import build_model, precision

    with precision.policy(policy):
        mixed = build_model(model, 40, 32)
    assert keras.config.dtype_policy().name == "float32"  # the policy was only lent to the build
    assert precision.is_mixed(mixed)
    x = np.random.default_rng(0).integers(1, 40, (2, 48)).astype(np.int32)  # longer than the window
    logits = np.asarray(mixed(x))
    assert logits.dtype == np.float32  # the logits stay float32: the softmax and the loss are exact
    copy = precision.to_float32(mixed)
    assert not precision.is_mixed(copy)
    assert all(np.array_equal(a, b) for a, b in zip(mixed.get_weights(), copy.get_weights(), strict=True))
    tolerance = 0.02 if policy == "mixed_float16" else 0.15  # bfloat16 keeps 8 bits of mantissa
    assert np.abs(np.asarray(copy(x)) - logits).max() < tolerance * max(1.0, np.abs(logits).max())
    assert precision.to_float32(copy) is copy


def test_the_nade_head_under_mixed_precision():
    from musegen.models import build_frame_model, precision

    cfg = ModelConfig(arch="lstm", units=16, embed_dim=16, layers=1, head="nade", nade_hidden=16)
    with precision.policy("mixed_float16"):
        model = build_frame_model(cfg, 88, window=32)
    x = (np.random.default_rng(0).random((2, 32, 176)) < 0.1).astype(np.float32)
    assert np.abs(np.asarray(model(x)) - np.asarray(precision.to_float32(model)(x))).max() < 0.05


def test_precision_and_xla_settings_are_checked_and_old_configs_read_as_before():
    with pytest.raises(ConfigError, match="precision must be one of 'float32', 'mixed_float16'"):
        TrainConfig(precision="float16").validate()
    with pytest.raises(ConfigError, match="jit_compile must be one of 'auto', 'on', 'off'"):
        TrainConfig(jit_compile="yes").validate()
    old = RunConfig.from_dict({"train": {"epochs": 3}})  # a config.json written before these settings
    assert (old.train.precision, old.train.jit_compile) == ("float32", "auto")
    assert [TrainConfig(jit_compile=v).keras_jit_compile() for v in ("auto", "on", "off")] == ["auto", True, False]


@pytest.mark.slow
def test_a_mixed_float16_run_trains_with_loss_scaling_resumes_and_generates(timed_data, tmp_path):
    from musegen.generation.compose import Composer
    from musegen.models import load_model, precision
    from musegen.training.loop import train

    config = tiny_config("lstm", precision="mixed_float16")
    run_dir = runs.create_run(tmp_path, config, timed_data.vocab)
    result = train(config, timed_data, run_dir)
    assert result.status == "finished"
    losses = [e.loss for e in result.history.epochs]
    assert losses[-1] < losses[0] and all(np.isfinite(losses))
    assert np.isfinite(result.metrics.model.nll)

    with precision.policy("mixed_float16"):  # how a resume loads it: the loss-scaling optimizer comes back
        last = load_model(run_dir / runs.LAST, compile=True)
    assert type(last.optimizer).__name__ == "LossScaleOptimizer" and precision.is_mixed(last)
    assert not precision.is_mixed(load_model(run_dir / runs.MODEL))  # inference: a float32 copy

    config.train.epochs = 3
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        resumed = train(config, timed_data, run_dir, resume=True)
    assert not [w for w in caught if "Skipping variable loading for optimizer" in str(w.message)]
    assert resumed.epochs_done == 3 and resumed.history.epochs[-1].loss < losses[0]

    composer = Composer(run_dir)
    composition = composer.compose(composer.seed_from_piece(0, 0, 8), SamplingConfig(length=24, seed=0))
    assert len(composition.continuations[0].notes) > 0


@pytest.mark.slow
def test_xla_compiles_the_training_step_on_request(chorales, tmp_path):
    from musegen.models import load_model
    from musegen.training.loop import train

    config = tiny_config("wavenet", jit_compile="on", epochs=1)
    data = build_dataset(chorales[:3], config.data)  # XLA's compile dominates: a few batches show it
    run_dir = runs.create_run(tmp_path, config, data.vocab)
    result = train(config, data, run_dir, evaluate=False)  # the compiled training step is what is tested
    assert result.status == "finished" and np.isfinite(result.history.epochs[0].loss)
    assert load_model(run_dir / runs.LAST, compile=True).jit_compile is True
    assert (runs.load_run(run_dir).config.train.jit_compile) == "on"


def test_the_command_line_takes_precision_and_xla(tmp_path, capsys):
    from musegen.cli import main

    assert main(["train", "--precision", "float16", "--max-pieces", "2", "--runs-dir", str(tmp_path)]) == 2
    assert "precision must be one of" in capsys.readouterr().err
    assert main(["train", "--xla", "maybe", "--max-pieces", "2", "--runs-dir", str(tmp_path)]) == 2
    assert "jit_compile must be one of" in capsys.readouterr().err
