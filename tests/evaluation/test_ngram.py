"""The n-gram floor: proper distributions, order selection, finite NLL below uniform on real chorales."""

from __future__ import annotations

import math

import numpy as np
import pytest

from musegen.config import DataConfig
from musegen.datasets.dataset import build_dataset
from musegen.errors import ConfigError, DatasetError
from musegen.scoring.ngram import NGramModel, fit_ngram, select_order
from musegen.sources.corpus import load_builtin_corpus


def markov_pieces(n_pieces: int, length: int, vocab: int, seed: int) -> list[np.ndarray]:
    """Pieces where the next token depends on the two before it 90% of the time."""
    table = np.random.default_rng(0).integers(3, vocab, (vocab, vocab))
    rng = np.random.default_rng(seed)
    pieces = []
    for _ in range(n_pieces):
        seq = [2, int(rng.integers(3, vocab))]
        while len(seq) < length:
            seq.append(int(table[seq[-1], seq[-2]]) if rng.random() < 0.9 else int(rng.integers(3, vocab)))
        pieces.append(np.array(seq, dtype=np.int32))
    return pieces


@pytest.mark.parametrize("order", [1, 2, 4])
def test_distributions_sum_to_one_and_give_unseen_tokens_some_mass(order):
    model = fit_ngram(markov_pieces(5, 60, 12, seed=1), vocab_size=40, order=order)
    for history in ([], [2], [2, 5, 7], [39, 38, 37]):  # 37..39 never occur in training
        p = model.distribution(history)
        assert p.shape == (40,) and abs(p.sum() - 1) < 1e-9 and (p > 0).all()
        assert model.prob(history, 39) == pytest.approx(p[39])


def test_order_selection_finds_the_true_order():
    train, val = markov_pieces(60, 200, 30, seed=1), markov_pieces(10, 200, 30, seed=2)
    model = select_order(train, val, vocab_size=30, orders=range(1, 6))
    assert model.order == 3  # two tokens of history, as generated
    assert set(model.order_scores) == {1, 2, 3, 4, 5}
    assert model.order_scores[3] < model.order_scores[2] < model.order_scores[1]
    assert model.score(val)["nll"] == pytest.approx(model.order_scores[3])


def test_score_counts_every_token_after_the_first():
    pieces = markov_pieces(3, 25, 10, seed=4)
    result = fit_ngram(pieces, 10, 2).score(pieces)
    assert result["tokens"] == 3 * 24
    assert result["perplexity"] == pytest.approx(math.exp(result["nll"]))
    assert 0 <= result["accuracy"] <= 1


@pytest.mark.parametrize("representation", ["timed", "classic"])
def test_real_chorales_nll_is_finite_and_below_uniform(chorales, representation):
    # classic chord tokens are sparse: on 12 chorales a third of the held-out tokens are <unk>
    pieces = chorales if representation == "timed" else load_builtin_corpus(limit=60)
    data = build_dataset(pieces, DataConfig(representation=representation, val_fraction=0.25))
    vocab_size = len(data.vocab)
    model = select_order(data.train, data.val, vocab_size, orders=range(1, 5))
    result = model.score(data.val)
    assert math.isfinite(result["nll"])
    assert result["nll"] < math.log(vocab_size)  # beats the uniform distribution
    assert result["tokens"] == data.n_val_tokens
    assert result["accuracy"] > 1 / vocab_size


def test_bad_input_is_refused():
    with pytest.raises(DatasetError):
        NGramModel(2, 5).fit([np.array([1, 7])])  # 7 is outside the vocabulary
    with pytest.raises(DatasetError):
        fit_ngram([np.array([1, 2])], 5, 2).score([np.array([3])])  # nothing to score
    with pytest.raises(ConfigError):
        select_order([np.array([1, 2])], [np.array([1, 2])], 5, orders=[0, 1])
