"""Sampling (pure numpy) and generation with the incremental decoder."""

from __future__ import annotations

import numpy as np
import pytest

from musegen.config import ModelConfig, SamplingConfig
from musegen.errors import ConfigError, TrainingError
from musegen.steering.sampling import sample_next
from musegen.vocabulary import BOS_ID

V = 16
LOGITS = np.log(np.array([[0.5, 0.3, 0.15, 0.05], [0.1, 0.2, 0.6, 0.1]]))


def draws(cfg: SamplingConfig, n: int = 4000, logits: np.ndarray = LOGITS, seed: int = 0, **kw) -> np.ndarray:
    """``n`` samples per row, shape (n, rows)."""
    rng = np.random.default_rng(seed)
    return np.stack([sample_next(logits, cfg, rng, **kw) for _ in range(n)])


@pytest.mark.parametrize(
    "cfg",
    [SamplingConfig(temperature=0.0), SamplingConfig(top_k=1), SamplingConfig(greedy=True, temperature=2.0)],
    ids=["temperature-0", "top-k-1", "greedy"],
)
def test_greedy_equivalences_give_the_argmax(cfg):
    logits = np.random.default_rng(3).normal(size=(5, 30))
    picks = sample_next(logits, cfg, np.random.default_rng(0))
    np.testing.assert_array_equal(picks, logits.argmax(axis=1))


def test_plain_sampling_follows_the_softmax():
    counts = draws(SamplingConfig(temperature=1.0, top_k=0), n=20000)
    for row in range(2):
        freq = np.bincount(counts[:, row], minlength=4) / len(counts)
        np.testing.assert_allclose(freq, np.exp(LOGITS[row]), atol=0.015)


def test_temperature_sharpens_and_flattens():
    cold = np.bincount(draws(SamplingConfig(temperature=0.3, top_k=0))[:, 0], minlength=4)
    hot = np.bincount(draws(SamplingConfig(temperature=3.0, top_k=0))[:, 0], minlength=4)
    assert cold[0] > hot[0] and cold[3] < hot[3]


def test_top_k_keeps_only_the_k_best():
    picks = draws(SamplingConfig(temperature=1.0, top_k=2))
    assert set(picks[:, 0]) == {0, 1}
    assert set(picks[:, 1]) == {1, 2}


def test_top_p_keeps_the_nucleus():
    # row 0: 0.5 + 0.3 reaches 0.7, so the nucleus is {0, 1}; row 1: 0.6 alone is short of 0.7 -> {2, 1}
    picks = draws(SamplingConfig(temperature=1.0, top_k=0, top_p=0.7))
    assert set(picks[:, 0]) == {0, 1}
    assert set(picks[:, 1]) == {1, 2}
    freq = np.bincount(picks[:, 0], minlength=4) / len(picks)
    np.testing.assert_allclose(freq[:2], [0.5 / 0.8, 0.3 / 0.8], atol=0.03)  # renormalised inside the nucleus
    assert set(draws(SamplingConfig(temperature=1.0, top_k=0, top_p=0.4))[:, 0]) == {0}  # the top token is always kept


def test_forbidden_ids_never_come_out_and_the_input_is_untouched():
    logits = np.zeros((3, 5))
    before = logits.copy()
    picks = draws(SamplingConfig(temperature=1.0, top_k=0), n=500, logits=logits, forbid_ids=(0, 2))
    assert set(np.unique(picks)) == {1, 3, 4}
    assert sample_next(logits, SamplingConfig(greedy=True), np.random.default_rng(0), forbid_ids=(0,))[0] == 1
    np.testing.assert_array_equal(logits, before)


def test_duration_tokens_are_drawn_at_their_own_temperature():
    # tokens 0-1 say which note, 2-3 how long it lasts (two durations), with 3:2 odds within each pair
    logits = np.log(np.array([[0.3, 0.2, 0.3, 0.2]])) + 7.0  # logits have no fixed offset: it must not matter
    cold = SamplingConfig(temperature=0.2, top_k=0, duration_temperature=1.0)
    picks = draws(cold, n=40000, logits=logits, duration_ids=[2, 3])[:, 0]
    freq = np.bincount(picks, minlength=4) / len(picks)
    # the pair keeps the share the temperature gives it (a half here), and within it the model's 3:2 odds at
    # 1.0; at 0.2 the other pair's odds go to (3/2)**5 = 7.6:1
    assert freq[2] + freq[3] == pytest.approx(0.5, abs=0.015)
    assert freq[2] / freq[3] == pytest.approx(1.5, rel=0.08)
    assert freq[0] / freq[1] == pytest.approx(1.5**5, rel=0.15)
    same = draws(SamplingConfig(temperature=0.2, top_k=0, duration_temperature=None), n=5000, logits=logits)
    follows = draws(
        SamplingConfig(temperature=0.2, top_k=0, duration_temperature=None),
        n=5000,
        logits=logits,
        duration_ids=[2, 3],
    )
    np.testing.assert_array_equal(same, follows)  # None: the durations follow the temperature
    greedy = SamplingConfig(greedy=True, duration_temperature=2.0)
    assert sample_next(np.log([[0.1, 0.2, 0.6, 0.1]]), greedy, np.random.default_rng(0), duration_ids=[2])[0] == 2


def test_duration_temperature_is_checked():
    SamplingConfig(duration_temperature=None).validate()
    for bad in (0.0, -1.0, 11.0):
        with pytest.raises(ConfigError, match="duration_temperature"):
            SamplingConfig(duration_temperature=bad).validate()


def test_same_seed_same_draws_and_no_log_of_zero():
    cfg = SamplingConfig(temperature=0.7, top_k=3, top_p=0.9)
    np.testing.assert_array_equal(draws(cfg, 200, seed=7), draws(cfg, 200, seed=7))
    assert not np.array_equal(draws(cfg, 200, seed=7), draws(cfg, 200, seed=8))
    with np.errstate(all="raise"):  # -inf logits and zero probabilities raise no warning
        draws(cfg, 50, logits=np.array([[0.0, -np.inf, 1.0, -np.inf]]))
        # nor with duration tokens at their own temperature, all masked or some masked
        masked = np.array([[0.0, -np.inf, 1.0, -np.inf], [-np.inf, 2.0, -np.inf, 0.5]])
        picks = draws(SamplingConfig(temperature=0.5, top_k=0), 200, logits=masked, duration_ids=[1, 3])
        assert set(picks[:, 0]) <= {0, 2} and set(picks[:, 1]) <= {1, 3}


def test_nan_scores_are_reported():
    with pytest.raises(TrainingError, match="NaN"):
        sample_next(np.array([[0.0, np.nan]]), SamplingConfig(temperature=1.0, top_k=0), np.random.default_rng(0))


# --- generation with real (tiny, untrained) models ----------------------------------------------

import keras  # noqa: E402  (a hard dependency: a broken install fails, never skips)

from musegen.generation.decode import generate_ids, generate_ids_predict_loop  # noqa: E402
from musegen.models import build_model  # noqa: E402

WAVENET = ModelConfig(arch="wavenet", embed_dim=8, channels=8, skip_channels=8, kernel_size=2, dilation_cycle=3)
LSTM = ModelConfig(arch="lstm", embed_dim=8, units=8, layers=1)


@pytest.fixture(scope="module")
def models():
    keras.utils.set_random_seed(0)
    return {
        "wavenet": build_model(WAVENET, V, 16),
        "lstm": build_model(LSTM, V, 16),
        "classic-lstm": build_model(ModelConfig(arch="classic-lstm"), V, 8),
    }


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["wavenet", "lstm", "classic-lstm"])
def test_variations_come_in_one_batch_and_seeds_reproduce(models, arch):
    cfg = SamplingConfig(length=20, variations=3, seed=11, temperature=1.5)
    progress = []
    seed_ids = np.array([2, 5, 7])  # shorter than every context: padded, not refused
    out = generate_ids(models[arch], seed_ids, cfg, on_progress=lambda done, total: progress.append((done, total)))
    assert len(out) == 3 and all(o.shape == (20,) and o.dtype == np.int32 for o in out)
    assert progress[0] == (1, 20) and progress[-1] == (20, 20) and len(progress) == 20
    assert all(o.min() >= 0 and o.max() < V for o in out)
    assert not any(np.isin(o, [0, 2]).any() for o in out)  # pad and bos are never generated
    again = generate_ids(models[arch], seed_ids, cfg)
    for a, b in zip(out, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert len({tuple(o) for o in out}) > 1  # the variations differ


@pytest.mark.slow
def test_greedy_variations_are_identical_and_an_empty_seed_starts_a_piece(models):
    cfg = SamplingConfig(length=10, variations=2, greedy=True)
    out = generate_ids(models["wavenet"], np.array([], dtype=np.int32), cfg)
    np.testing.assert_array_equal(out[0], out[1])
    # an empty seed is the start of a piece: exactly what the model continues after <bos> alone
    from_bos = generate_ids(models["wavenet"], np.array([BOS_ID], dtype=np.int32), cfg)
    np.testing.assert_array_equal(out[0], from_bos[0])


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["wavenet", "classic-lstm"])
def test_fast_generation_equals_the_tutorials_predict_loop(models, arch):
    """Greedy, with a seed longer than the window: same tokens as model.predict once per token."""
    seed_ids = np.random.default_rng(2).integers(3, V, 40)
    cfg = SamplingConfig(length=12, greedy=True, variations=2)
    fast = generate_ids(models[arch], seed_ids, cfg)
    slow = generate_ids_predict_loop(models[arch], seed_ids, cfg, window=16)
    for a, b in zip(fast, slow, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.slow
def test_bad_requests_are_refused(models):
    with pytest.raises(ConfigError):
        generate_ids(models["lstm"], np.array([3, V + 5]), SamplingConfig(length=4))
    with pytest.raises(ConfigError):
        generate_ids(models["lstm"], np.array([3]), SamplingConfig(length=4, temperature=-1))


@pytest.mark.slow
def test_a_given_generator_replaces_the_config_seed(models):
    cfg = SamplingConfig(length=8, seed=5)
    by_seed = generate_ids(models["lstm"], np.array([3]), cfg)
    by_rng = generate_ids(models["lstm"], np.array([3]), SamplingConfig(length=8), rng=np.random.default_rng(5))
    np.testing.assert_array_equal(by_seed[0], by_rng[0])
