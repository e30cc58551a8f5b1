"""Held-out metrics: same targets as the n-gram baseline, finite numbers, clear errors on broken runs."""

from __future__ import annotations

import json
import math

import keras
import numpy as np
import pytest

from musegen import runs
from musegen.datasets.dataset import build_dataset
from musegen.errors import DatasetError, ModelLoadError
from musegen.evaluation.heldout import evaluate_run
from musegen.records import Metrics
from musegen.scoring.likelihood import (
    classic_examples,
    score_sequence,
    sliding_windows,
)
from musegen.training.loop import train
from tests.shared import once
from tests.training_helpers import tiny_config

pytestmark = pytest.mark.slow  # trains real models or runs real processes: `pytest -m "not slow"` skips it


@pytest.fixture(scope="module", params=["wavenet", "classic-wavenet"])
def run_dir(request, chorales, tmp_path_factory):
    def build():
        config = tiny_config(request.param, epochs=2)
        data = build_dataset(chorales[:10], config.data)
        path = runs.create_run(tmp_path_factory.mktemp("runs"), config, data.vocab)
        train(config, data, path)  # evaluates at the end
        return path

    return once(("heldout", request.param), build)


def test_metrics_are_finite_and_baseline_beats_uniform(run_dir):
    metrics = Metrics.from_dict(json.loads((run_dir / "metrics.json").read_text()))
    model, baseline = metrics.model, metrics.baseline
    for scores in (model, baseline):
        assert math.isfinite(scores.nll) and scores.nll > 0
        assert scores.perplexity == pytest.approx(math.exp(scores.nll))
        assert 0.0 <= scores.accuracy <= 1.0
    assert baseline.nll < metrics.uniform_nll == pytest.approx(math.log(metrics.vocab_size))
    assert baseline.order >= 1
    # the model and the baseline are scored on exactly the same targets
    assert model.tokens == baseline.tokens == metrics.val_tokens
    assert metrics.beats_baseline == (model.nll < baseline.nll)
    assert runs.load_run(run_dir).metrics == metrics


def test_evaluate_run_is_reproducible_from_the_stored_split(run_dir):
    before = json.loads((run_dir / "metrics.json").read_text())
    again = evaluate_run(run_dir)
    assert again.model.nll == pytest.approx(before["model"]["nll"], rel=1e-6)
    assert again.baseline.nll == pytest.approx(before["baseline"]["nll"])


def test_truncated_model_gives_the_domain_error(run_dir, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(run_dir, broken)
    data = (broken / "model.keras").read_bytes()
    (broken / "model.keras").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelLoadError):
        runs.load_run_model(broken)
    with pytest.raises(ModelLoadError):
        evaluate_run(broken)


def test_every_target_is_scored_exactly_once():
    seq = np.arange(2, 2 + 75, dtype=np.int32)
    windows = list(sliding_windows(seq, 16))
    scored = np.concatenate([y[w > 0] for _, y, w in windows])
    assert scored.tolist() == seq[1:].tolist()
    for x, y, w in windows:  # inputs and targets stay aligned, and every target has context
        real = y > 0
        assert (y[real][:-1] == x[real][1:]).all()
        first_scored = int(np.argmax(w > 0))
        assert first_scored == 0 or first_scored >= 8
    short = list(sliding_windows(np.array([2, 5, 6], np.int32), 16))
    assert len(short) == 1 and short[0][2].sum() == 2
    batches = list(classic_examples([np.array([2, 5, 6, 7], np.int32)], 4, 10))
    x, y = batches[0]
    assert y.tolist() == [5, 6, 7]
    assert np.allclose(x[2, :, 0] * 10, [0, 0, 5, 6])


def test_sequence_scores_match_a_direct_computation():
    rng = np.random.default_rng(0)
    model = keras.Sequential([keras.Input((None,), dtype="int32"), keras.layers.Embedding(7, 7)])
    seqs = [rng.integers(1, 7, size=n).astype(np.int32) for n in (5, 40)]
    scores = score_sequence(model, seqs, window=8)
    nll, hits, n = 0.0, 0, 0
    for seq in seqs:  # the embedding ignores context, so per-token logits are exact
        logits = np.asarray(model(seq[None, :-1]))[0].astype(np.float64)
        logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
        nll -= logp[np.arange(len(seq) - 1), seq[1:]].sum()
        hits += int((logp.argmax(-1) == seq[1:]).sum())
        n += len(seq) - 1
    assert scores["tokens"] == n
    assert scores["nll"] == pytest.approx(nll / n, rel=1e-5)
    assert scores["accuracy"] == pytest.approx(hits / n)


def test_a_run_without_validation_pieces_is_refused(tmp_path):
    from musegen.config import RunConfig
    from musegen.vocabulary import Vocabulary

    vocab = Vocabulary(["<pad>", "<unk>", "<bos>", "a"], "timed")
    path = runs.create_run(tmp_path, RunConfig(), vocab)
    runs.save_dataset(path, [np.array([2, 3, 3], np.int32)], [])
    with pytest.raises(DatasetError, match="no validation piece"):
        evaluate_run(path)
