"""Windows, the split by piece, augmentation and the classic path on real chorales."""

from __future__ import annotations

import numpy as np
import pytest

from musegen.config import DataConfig
from musegen.datasets.dataset import build_dataset, split_by_piece
from musegen.errors import ConfigError, DatasetError
from musegen.streams.windows import classic_coverage, classic_windows, next_token_windows


def test_split_is_by_piece_seeded_and_disjoint():
    a_train, a_val = split_by_piece(50, 0.2, seed=1)
    _b_train, b_val = split_by_piece(50, 0.2, seed=1)
    _c_train, c_val = split_by_piece(50, 0.2, seed=2)
    assert np.array_equal(a_val, b_val) and not np.array_equal(a_val, c_val)
    assert len(a_val) == 10 and not set(a_train) & set(a_val)
    assert set(a_train) | set(a_val) == set(range(50))
    assert [len(x) for x in split_by_piece(2, 0.1, 0)] == [1, 1]  # never an empty validation set


def test_dataset_on_real_chorales(chorales):
    ds = build_dataset(chorales, DataConfig(val_fraction=0.25))
    assert len(ds.train) + len(ds.val) == len(chorales)
    assert not set(ds.train_names) & set(ds.val_names)
    assert all(s[0] == ds.vocab.bos_id for s in ds.train + ds.val)
    assert all((s[1:] >= 3).all() for s in ds.train)  # no pad/unk/bos inside timed sequences


def test_windows_cover_every_target_and_pad_short_pieces():
    seqs = [np.arange(2, 12, dtype=np.int32), np.arange(2, 300, dtype=np.int32)]
    x, y = next_token_windows(seqs, window=128, stride=64)
    assert x.shape[1] == 128 and x.shape == y.shape
    short = x[0]
    assert short[:9].tolist() == list(range(2, 11)) and (short[9:] == 0).all()
    assert y[0, :9].tolist() == list(range(3, 12)) and (y[0, 9:] == 0).all()
    # every target of the long piece appears in some window, y is x shifted by one
    targets = set(np.concatenate([row[row != 0] for row in y[1:]]).tolist())
    assert targets == set(range(3, 300))
    for xi, yi in zip(x, y, strict=True):
        n = int((yi != 0).sum())
        assert np.array_equal(xi[1:n], yi[: n - 1])


def test_transposition_augments_train_only(chorales):
    cfg = DataConfig(transpose=(-2, 2), val_fraction=0.25)
    plain = build_dataset(chorales, DataConfig(val_fraction=0.25))
    aug = build_dataset(chorales, cfg)
    assert len(aug.train) == 5 * len(plain.train)
    assert len(aug.val) == len(plain.val)
    assert any("(+2)" in n for n in aug.train_names)


def test_classic_path_is_the_tutorials_and_says_what_it_drops(chorales):
    ds = build_dataset(chorales, DataConfig(representation="classic", val_fraction=0.0))
    x, y = classic_windows(ds.train, 32, len(ds.vocab))
    assert x.shape[1:] == (32, 1) and x.dtype == np.float32 and y.shape == (len(x),)
    assert 0 < x.max() < 1
    first = ds.train[0][1:]
    assert np.allclose(x[0, :, 0] * len(ds.vocab), first[:32]) and y[0] == first[32]
    full = build_dataset(chorales, DataConfig(representation="classic", val_fraction=0.0))
    coverage_128 = classic_coverage(full.train, 128)
    assert coverage_128 < 0.5  # most chorales are shorter than the tutorial's window


def test_bad_dataset_settings():
    with pytest.raises(DatasetError):
        build_dataset([], DataConfig())
    with pytest.raises(ConfigError, match="window"):
        DataConfig(window=1).validate()
    with pytest.raises(ConfigError, match="programs"):
        DataConfig(instrument_filter="programs").validate()


def test_exact_duplicates_are_dropped_before_the_split(chorales):
    twice = [*chorales, *chorales[:3]]
    ds = build_dataset(twice, DataConfig(val_fraction=0.25))
    assert len(ds.train) + len(ds.val) == len(chorales)
    assert ds.duplicates == [p.name for p in chorales[:3]]


def test_builtin_corpus_duplicates_never_straddle_the_split():
    from musegen.sources.corpus import load_builtin_corpus

    ds = build_dataset(load_builtin_corpus(), DataConfig())
    assert len(ds.duplicates) >= 3  # e.g. bwv25.6, bwv248.12-2 and bwv194.12 have exact copies
    train = {tuple(s.tolist()) for s in ds.train}
    assert not any(tuple(s.tolist()) in train for s in ds.val)
