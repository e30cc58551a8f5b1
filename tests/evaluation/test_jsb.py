"""The polyphonic benchmark: .mat reading, the frame NLL on a hand-computed example, the floors, the command."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import scipy.io

from musegen.errors import DatasetError
from musegen.experiments.jsb import DEFAULT_DATA
from musegen.scoring.floors import BernoulliFloor, MarkovFloor, frame_nll, score_floors
from musegen.sources.mat import load_mat

# two pieces over 3 keys; the first frame of each is context only: 3 predicted frames
PIECE_A = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 0]], np.uint8)
PIECE_B = np.array([[0, 0, 1], [0, 0, 1]], np.uint8)


class CopyPrevious:
    """A mock causal model: logit +1 for a key that is down in the frame it reads, -1 otherwise."""

    def __call__(self, x, training=False):
        assert not training
        return 2.0 * np.asarray(x) - 1.0


def test_frame_nll_on_a_hand_computed_example():
    scores = frame_nll(CopyPrevious(), [PIECE_A, PIECE_B])
    # a key that keeps its state costs log(1 + e^-1); one that changes costs log(1 + e) = that + 1.
    # A: frames 1 and 2 change one key each (2 kept + 1 changed); B: frame 1 keeps all three.
    kept = math.log1p(math.exp(-1))
    assert scores["frames"] == 3
    assert scores["nll"] == pytest.approx((2 * (2 * kept + kept + 1) + 3 * kept) / 3, abs=1e-9)
    assert scores["nll"] == pytest.approx(1.60645, abs=1e-5)
    # keys predicted down (logit > 0) against the truth: 3 hits, 1 missed (A1 key 1), 1 false (A2 key 0)
    assert scores["accuracy"] == pytest.approx(3 / 5)
    # the order and padding of the batch change nothing
    assert frame_nll(CopyPrevious(), [PIECE_B, PIECE_A])["nll"] == pytest.approx(scores["nll"], abs=1e-12)


def test_the_floors_on_the_hand_example():
    pieces = [PIECE_A, PIECE_B]
    # every key is down in 2 of the 5 frames: p = (2 + 0.5) / (5 + 1) = 5/12; the 3 predicted frames
    # hold 4 keys down and 5 up
    bern = BernoulliFloor().fit(pieces).score(pieces)
    assert bern["frames"] == 3
    assert bern["nll"] == pytest.approx((4 * math.log(12 / 5) + 5 * math.log(12 / 7)) / 3, abs=1e-9)
    # per key, P(down | previous down / up) with add-1/2 smoothing: key 0 1/2 | 1/4, key 1 3/4 | 1/2,
    # key 2 3/4 | 1/6; the three predicted frames then cost 4 ln 2 + 2 ln(6/5) + 3 ln(4/3) in all
    markov = MarkovFloor().fit(pieces).score(pieces)
    assert markov["nll"] == pytest.approx((4 * math.log(2) + 2 * math.log(6 / 5) + 3 * math.log(4 / 3)) / 3)
    assert markov["nll"] < bern["nll"]


def test_the_benchmark_data_ships_inside_the_package():
    """A fresh clone (or an installed package) has JSB Chorales; the default path is not the checkout's parent."""
    from musegen.paths import PACKAGE_DATA

    assert DEFAULT_DATA.parent == PACKAGE_DATA
    assert DEFAULT_DATA.is_file() and DEFAULT_DATA.stat().st_size < 200_000
    assert "MIT" in (PACKAGE_DATA / "JSB_Chorales.README.md").read_text()


def test_the_floors_match_the_published_readme_on_jsb_chorales():
    data = load_mat(DEFAULT_DATA)
    assert [len(data.train), len(data.valid), len(data.test)] == [229, 76, 77]
    assert sum(len(p) for p in data.test) == 4725
    floors = score_floors(data.train, data.test)
    assert floors["bernoulli"]["frames"] == 4725 - 77  # every test frame but the first of each piece
    assert floors["bernoulli"]["nll"] == pytest.approx(11.06, abs=0.05)
    assert floors["markov"]["nll"] == pytest.approx(10.47, abs=0.05)


# ------------------------------------------------------------------ .mat files


def write_mat(path, splits: dict[str, list[np.ndarray]]) -> None:
    arrays = {}
    for name, pieces in splits.items():
        cell = np.empty((1, len(pieces)), dtype=object)
        for i, piece in enumerate(pieces):
            cell[0, i] = piece
        arrays[name] = cell
    scipy.io.savemat(str(path), arrays)


def synthetic_pieces(n: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Four-voice chord progressions, 6 to 13 quarter-note frames each."""
    out = []
    for _ in range(n):
        root, length = int(rng.integers(24, 40)), int(rng.integers(6, 14))
        piece = np.zeros((length, 88), np.uint8)
        for t in range(length):
            piece[t, root + np.array([0, 4, 7, 12]) + 5 * (t // 2 % 2)] = 1
        out.append(piece)
    return out


@pytest.fixture()
def small_mat(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "Tiny.mat"
    write_mat(path, {s: synthetic_pieces(n, rng) for s, n in (("traindata", 8), ("validdata", 3), ("testdata", 3))})
    return path


def test_load_mat_reads_any_file_of_the_format(small_mat):
    data = load_mat(small_mat)
    assert data.name == "Tiny" and (len(data.train), len(data.valid), len(data.test)) == (8, 3, 3)
    assert data.train[0].dtype == np.uint8 and data.train[0].shape[1] == 88
    assert data.summary()["valid"]["pieces"] == 3


def test_load_mat_says_what_is_wrong(tmp_path):
    with pytest.raises(DatasetError, match="no piano-roll benchmark file"):
        load_mat(tmp_path / "missing.mat")
    (tmp_path / "text.mat").write_text("not matlab")
    with pytest.raises(DatasetError, match="not a readable"):
        load_mat(tmp_path / "text.mat")
    write_mat(tmp_path / "nosplit.mat", {"traindata": [np.zeros((4, 88), np.uint8)]})
    with pytest.raises(DatasetError, match="validdata, testdata"):
        load_mat(tmp_path / "nosplit.mat")
    bad = {s: [np.zeros((4, 12), np.uint8)] for s in ("traindata", "validdata", "testdata")}
    write_mat(tmp_path / "narrow.mat", bad)
    with pytest.raises(DatasetError, match=r"not \(T, 88\)"):
        load_mat(tmp_path / "narrow.mat")


# ------------------------------------------------------------------ training batches, the command

import keras  # noqa: E402, F401  (a hard dependency: a broken install fails, never skips)

pytestmark = pytest.mark.slow  # trains real models or runs real processes: `pytest -m "not slow"` skips it


def test_length_buckets_cover_every_window_once_and_cut_the_padding():
    from musegen.streams import frames
    from musegen.streams.windows import sequence_windows

    pieces = [*synthetic_pieces(40, np.random.default_rng(1)), np.ones((60, 88), np.uint8)]
    _, _, w = sequence_windows(pieces, window=64, stride=64, pad=0.0)
    store = frames.FrameStore.from_pieces(pieces)
    data, n_batches = frames.train_dataset(store, frames.training_windows(store, 64, 64), [0], 64, 8, seed=0)
    batches = list(data.as_numpy_iterator())
    assert len(batches) == n_batches == int(data.cardinality())
    assert sum(len(b[2]) for b in batches) == len(w)
    assert sum(b[2].sum() for b in batches) == w.sum()  # every real target, once
    for bx, _, bw in batches:
        assert bx.shape[1] % 16 == 0 or bx.shape[1] == 64
        assert bw.sum(1).max() > bx.shape[1] - 16  # cut to the longest, rounded up to 16
    assert max(b[0].shape[1] for b in batches) == 64 and min(b[0].shape[1] for b in batches) == 16


def test_the_benchmark_command_prints_one_json_report(small_mat, tmp_path, capsys):
    from musegen.cli import main
    from musegen.config import SamplingConfig
    from musegen.generation.compose import Composer

    tiny = [
        *("embed_dim=8", "channels=8", "skip_channels=8", "dilation_cycle=3", "units=8", "nade_hidden=8"),
        "transpose=[-1,1]",
    ]
    sets = [arg for value in tiny for arg in ("--set", value)]
    argv = ["benchmark", "jsb", "--data", str(small_mat), "--minutes", "2", "--epochs", "2", *sets]
    assert main([*argv, "--runs-dir", str(tmp_path / "runs"), "--json"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)  # exactly one JSON object on stdout
    assert report["dataset"] == "Tiny" and report["published"] == [] and report["rnn_nade"] is None
    assert [m["arch"] for m in report["models"]] == ["lstm-nade", "wavenet-nade", "wavenet", "lstm"]
    for m in report["models"]:
        assert m["epochs"] == 2 and m["best_epoch"] in (1, 2)
        assert 0 < m["test_nll"] < 88 * math.log(2) + 1 and m["parameters"] < 5000
        assert m["settings"]["train"]["max_minutes"] == 2.0
    assert report["floors"]["markov"]["test"] < report["floors"]["bernoulli"]["test"]
    assert "wavenet epoch 2" in captured.err
    assert [m["settings"]["model"]["head"] for m in report["models"]] == ["nade", "nade", "independent", "independent"]
    # a kept run is an ordinary piano-roll run: the app can generate from it (here, in chords)
    composer = Composer(report["models"][0]["run_dir"])
    comp = composer.compose(composer.seed_from_piece(0, length=4), SamplingConfig(length=8, seed=0))
    assert comp.token_counts == [8] and composer.run.metrics.representation == "pianoroll"


def test_the_benchmark_refuses_unknown_settings_and_a_missing_file(small_mat, tmp_path, capsys):
    from musegen.cli import main

    assert main(["benchmark", "jsb", "--data", str(small_mat), "--set", "colour=blue"]) == 2
    assert "unknown benchmark settings: colour" in capsys.readouterr().err
    assert main(["benchmark", "jsb", "--data", str(tmp_path / "none.mat"), "--json"]) == 2
    assert json.loads(capsys.readouterr().out)["ok"] is False
