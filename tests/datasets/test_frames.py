"""Streaming piano-roll training data (musegen.streams.frames): the same examples as stored windows and
transposed copies, scoring windows with left context, memory that does not grow with piece length."""

from __future__ import annotations

import collections
import json
import math
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from musegen import runs
from musegen.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from musegen.errors import TrainingError
from musegen.representations.pianoroll import N_KEYS, pianoroll_vocab, transpose_frames
from musegen.scoring.floors import frame_nll
from musegen.streams import frames
from musegen.streams.windows import bucket_batch_count, scoring_windows, sequence_windows


def random_pieces(lengths, seed=0, density=0.06) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    pieces = [(rng.random((n, N_KEYS)) < density).astype(np.uint8) for n in lengths]
    for p in pieces:  # keys at both ends of the keyboard: a shift pushes them off
        if len(p):
            p[0, 0] = p[-1, N_KEYS - 1] = 1
    return pieces


def run_config(window=24, stride=10, transpose=(-2, 3), batch=4, **model) -> RunConfig:
    data = DataConfig(representation="pianoroll", window=window, stride=stride, transpose=transpose)
    return RunConfig(data=data, model=ModelConfig(**model), train=TrainConfig(batch_size=batch))


def padded(example, window):
    """One example (x, y, w) zero-padded to ``window`` positions, as bytes (hashable)."""
    x, y, w = (np.asarray(a, np.float32) for a in example)
    out = []
    for a in (x, y, w):
        full = np.zeros((window, *a.shape[1:]), np.float32)
        full[: len(a)] = a
        out.append(full.tobytes())
    return tuple(out)


def examples(dataset, window):
    return collections.Counter(
        padded((x[i], y[i], w[i]), window) for x, y, w in dataset.as_numpy_iterator() for i in range(len(x))
    )


# ------------------------------------------------------------------ the store and the windows


def test_the_store_holds_every_piece_once_as_uint8():
    pieces = random_pieces([5, 1, 0, 9])
    store = frames.FrameStore.from_pieces([p.astype(np.int32) for p in pieces])
    assert store.flat.dtype == np.uint8 and store.flat.shape == (15, N_KEYS) and store.flat.flags.c_contiguous
    assert store.lengths.tolist() == [5, 1, 0, 9] and store.offsets.tolist() == [0, 5, 6, 6]
    for i, p in enumerate(pieces):
        np.testing.assert_array_equal(store.piece(i), p)
    index = frames.training_windows(store, window=4, stride=3)
    # piece 0: 4 targets, one window; piece 3: 8 targets, starts 0, 3 and 4 (the last aligned to the end)
    assert list(zip(index.piece.tolist(), index.start.tolist(), index.length.tolist(), strict=True)) == [
        (0, 0, 4),
        (3, 0, 4),
        (3, 3, 4),
        (3, 4, 4),
    ]
    assert index.piece.dtype == np.int32 and not index.skip.any()


def test_scoring_windows_score_every_target_exactly_once_with_left_context():
    for n in [1, 5, 16, 17, 40, 100, 257]:
        for window, context in [(16, 0), (16, 5), (16, 15), (32, 8)]:
            seen = np.zeros(n, int)
            cuts = scoring_windows(n, window, context)
            for i, (start, length, skip) in enumerate(cuts):
                assert 1 <= length <= window and start + length <= n
                assert skip == (0 if i == 0 else context)
                scored = np.arange(start + skip, start + length)
                seen[scored] += 1
                # target t reads inputs start..t of its own window: context + 1 of them or more
                assert i == 0 or (scored - start + 1 >= context + 1).all()
            assert (seen == 1).all()
            if n <= window:
                assert cuts == [(0, n, 0)]  # a piece that fits is scored whole
    assert scoring_windows(0, 16, 4) == []
    with pytest.raises(ValueError, match="below the window"):
        scoring_windows(40, 16, 16)


def test_the_context_of_each_architecture():
    assert frames.model_context(ModelConfig(arch="wavenet", dilation_cycle=3), 64) == 9
    assert frames.model_context(ModelConfig(arch="transformer", transformer_layers=2), 64) == 2 * 63 + 1
    assert frames.model_context(ModelConfig(arch="transformer", attention_span=8), 64) == 4 * 7 + 1
    assert frames.model_context(ModelConfig(arch="lstm"), 64) is None
    assert frames.scoring_plan(ModelConfig(arch="wavenet", dilation_cycle=3), 64) == (64 + 9, 9)
    assert frames.scoring_plan(ModelConfig(arch="lstm"), 64) == (64, 32)  # an LSTM sees at most the window


class CausalSum:
    """A causal mock model that reads exactly ``field`` frames: logit of key k = weighted sum of key k over
    the last ``field`` frames (zeros before the input), minus a bias."""

    def __init__(self, field: int):
        self.weights = np.linspace(1.0, 2.0, field)

    def __call__(self, x, training=False):
        x = np.asarray(x, np.float64)
        out = np.full(x.shape, -1.5)
        for lag, weight in enumerate(self.weights):
            out[:, lag:] += weight * x[:, : x.shape[1] - lag]
        return out


def test_frame_nll_in_scoring_windows_equals_whole_pieces_within_the_receptive_field():
    pieces = random_pieces([3, 20, 70, 301, 45], seed=3, density=0.2)
    model = CausalSum(field=6)
    whole = frame_nll(model, pieces)
    cut = frame_nll(model, pieces, window=32, context=6)
    assert cut["frames"] == whole["frames"] == sum(len(p) - 1 for p in pieces)
    assert cut["nll"] == pytest.approx(whole["nll"], rel=1e-12)
    assert cut["accuracy"] == pytest.approx(whole["accuracy"], rel=1e-12)
    # pieces that fit in the window are scored whole: the very same numbers
    assert frame_nll(model, pieces, window=400, context=6) == whole
    # too little context cuts into the receptive field: the test can tell
    assert frame_nll(model, pieces, window=32, context=2)["nll"] != pytest.approx(whole["nll"], rel=1e-9)


@pytest.mark.slow
def test_a_keras_wavenet_scores_the_same_in_scoring_windows_as_on_whole_pieces():
    from musegen.models import build_frame_model, receptive_field

    config = ModelConfig(arch="wavenet", embed_dim=8, channels=8, skip_channels=8, dilation_cycle=3)
    model = build_frame_model(config, N_KEYS)
    assert receptive_field(model) == frames.model_context(config, 32) == 9
    pieces = random_pieces([12, 150, 333], seed=4, density=0.1)
    whole = frame_nll(model, pieces)
    cut = frame_nll(model, pieces, *frames.scoring_plan(config, 32))  # windows of 41 frames, 9 of context
    assert cut["frames"] == whole["frames"]
    assert cut["nll"] == pytest.approx(whole["nll"], rel=1e-5)


# ------------------------------------------------------------------ the pipeline


def test_the_stream_yields_the_examples_of_stored_windows_and_transposed_copies():
    pieces = random_pieces([2, 1, 7, 24, 25, 30, 61, 90, 13])
    config = run_config(window=24, stride=10, transpose=(-2, 3), batch=4)
    data = frames.frame_training_data(pieces, pieces[:2], config, 4, seed=1)
    copies = [transpose_frames(p, s) for s in range(-2, 4) for p in pieces]
    x, y, w = sequence_windows(copies, 24, 10, 0.0)  # the old path: every copy stored, float32 windows
    old = collections.Counter(padded((x[i], y[i], w[i]), 24) for i in range(len(w)))
    assert data.samples == len(w) == 6 * len(frames.training_windows(frames.FrameStore.from_pieces(pieces), 24, 10))
    assert data.global_batch == 4
    batches = list(data.train.as_numpy_iterator())
    assert len(batches) == data.batches == int(data.train.cardinality())
    assert examples(data.train, 24) == old  # the same multiset of (x, y, w)
    for bx, by, bw in batches:
        assert bx.dtype == by.dtype == bw.dtype == np.float32 and bx.shape[2] == N_KEYS
        assert bx.shape[1] == min(24, math.ceil(bw.sum(1).max() / 16) * 16)  # cut to the longest, rounded to 16


def test_every_epoch_is_shuffled_again_and_the_seed_repeats_it():
    pieces = random_pieces([40, 33, 52, 18])
    config = run_config(window=16, stride=8, transpose=(0, 2), batch=3)

    def first_batches(seed):
        data = frames.frame_training_data(pieces, [], config, 3, seed=seed)
        epochs = [[b[0].tobytes() for b in data.train.as_numpy_iterator()] for _ in range(2)]
        return epochs, data.val

    (one, two), val = first_batches(5)
    again, _ = first_batches(5)
    assert val is None  # no validation pieces
    assert one != two  # a new order every epoch
    assert [one, two] == again  # and the same orders from the same seed


def test_shifted_examples_are_transpose_frames_of_the_originals():
    import tensorflow as tf

    pieces = random_pieces([30, 12])
    store = frames.FrameStore.from_pieces(pieces)
    index = frames.training_windows(store, window=16, stride=8)
    shifts = frames.shifts_of((-5, 6))
    example = frames.example_fn(store, index, shifts, window=16)
    for j in range(len(index)):
        p, start, n = int(index.piece[j]), int(index.start[j]), int(index.length[j])
        for s, shift in enumerate(shifts):
            x, y, w = (a.numpy() for a in example(tf.constant(j * len(shifts) + s, tf.int64)))
            moved = transpose_frames(pieces[p], shift)
            np.testing.assert_array_equal(x[:n], moved[start : start + n])
            np.testing.assert_array_equal(y[:n], moved[start + 1 : start + n + 1])
            assert not x[n:].any() and not y[n:].any() and w.tolist() == [1.0] * n + [0.0] * (len(w) - n)
            assert x.dtype == np.uint8 and len(x) == min(16, math.ceil(n / 16) * 16)


def test_validation_scores_every_target_once_in_windows_with_context():
    pieces = random_pieces([50, 50])
    val = random_pieces([10, 300, 31], seed=2)
    config = run_config(window=32, stride=16, arch="wavenet", dilation_cycle=3)  # receptive field 9
    data = frames.frame_training_data(pieces, val, config, 8, seed=0)
    batches = list(data.val.as_numpy_iterator())
    assert sum(float(b[2].sum()) for b in batches) == sum(len(v) - 1 for v in val)
    store = frames.FrameStore.from_pieces(val)
    index = frames.scoring_windows(store, *frames.scoring_plan(config.model, 32))
    assert index.length.max() == 32 + 9 and set(index.skip.tolist()) == {0, 9}
    assert len(batches) == 1  # one batch where it fits: val_loss is then the exact mean


def test_the_nade_head_reads_the_context_frame_and_the_target_frame():
    pieces = random_pieces([20, 35])
    config = run_config(window=16, stride=8, transpose=(-1, 1))
    plain = frames.frame_training_data(pieces, pieces, config, 4, seed=2)
    nade = frames.frame_training_data(pieces, pieces, config, 4, seed=2, nade=True)
    for (px, py, pw), (nx, ny, nw) in zip(plain.train.as_numpy_iterator(), nade.train.as_numpy_iterator(), strict=True):
        assert nx.shape == (*px.shape[:2], 2 * N_KEYS)
        np.testing.assert_array_equal(nx, np.concatenate([px, py], -1))
        np.testing.assert_array_equal(ny, py)
        np.testing.assert_array_equal(nw, pw)
    vx, vy, _ = next(nade.val.as_numpy_iterator())
    np.testing.assert_array_equal(vx[..., N_KEYS:], vy)


def test_the_piano_roll_dataset_stores_each_training_piece_once(chorales):
    from musegen.datasets.dataset import build_dataset

    cfg = DataConfig(representation="pianoroll", val_fraction=0.25, transpose=(-5, 6))
    data = build_dataset(chorales[:8], cfg)
    assert len(data.train) == 6 and all(d.dtype == np.uint8 for d in data.train)
    assert not any("(+" in n or "(-" in n for n in data.train_names)
    # the token representations keep their stored copies
    timed = build_dataset(chorales[:8], DataConfig(val_fraction=0.25, transpose=(-1, 1)))
    assert len(timed.train) == 3 * 6


# ------------------------------------------------------------------ memory


def test_a_set_that_cannot_fit_gets_a_clear_message(tmp_path):
    pieces = random_pieces([4000] * 3)
    config = run_config(window=2048, stride=1024, batch=64, arch="wavenet")
    estimate = frames.estimate_memory(frames.FrameStore.from_pieces(pieces), None, config, 64)
    assert estimate.store == 2 * frames.FrameStore.from_pieces(pieces).nbytes
    assert estimate.total > 1024**3  # 64 windows of 2,048 frames through 7 residual layers
    with pytest.raises(TrainingError, match=r"need about [\d.]+ GB of memory .* lower the batch size or the window"):
        frames.frame_training_data(pieces, [], config, 64, seed=0, available=256 * 1024**2)
    frames.check_memory(estimate, available=estimate.total)  # what fits passes
    small = frames.estimate_memory(frames.FrameStore.from_pieces(pieces), None, run_config(window=64, batch=8), 8)
    assert small.total < estimate.total / 50
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       16000000 kB\nMemAvailable:    2048 kB\n")
    none = tmp_path / "none"
    assert frames.available_memory(meminfo, cgroup=none) == 2048 * 1024
    assert frames.available_memory(none, cgroup=none) is None  # not Linux: no check
    # in a container, its cgroup's cap counts when it leaves less than the machine has
    cgroup = tmp_path / "cgroup"
    cgroup.mkdir()
    (cgroup / "memory.max").write_text("1048576\n")
    (cgroup / "memory.current").write_text("524288\n")
    assert frames.available_memory(meminfo, cgroup) == 524288
    (cgroup / "memory.max").write_text("max\n")  # no cap
    assert frames.available_memory(meminfo, cgroup) == 2048 * 1024


def test_frames_are_stored_as_uint8_and_old_int32_runs_still_load(tmp_path):
    vocab = pianoroll_vocab(4)
    train, val = random_pieces([6, 9]), random_pieces([5], seed=1)
    path = tmp_path / "run"
    path.mkdir()
    (path / runs.VOCAB).write_text(json.dumps(vocab.to_dict()))
    runs.save_dataset(path, train, val)
    stored = runs.load_dataset(path)
    with np.load(path / runs.DATA) as arrays:
        assert arrays["train_ids"].dtype == np.uint8 and arrays["train_ids"].shape == (15, N_KEYS)
    assert all(s.dtype == np.uint8 for s in [*stored.train, *stored.val])
    for a, b in zip([*stored.train, *stored.val], [*train, *val], strict=True):
        np.testing.assert_array_equal(a, b)
    # a run folder written before: int32 frames
    old = {
        "train_ids": np.concatenate(train).astype(np.int32),
        "train_lengths": np.array([6, 9], np.int64),
        "val_ids": np.concatenate(val).astype(np.int32),
        "val_lengths": np.array([5], np.int64),
    }
    np.savez_compressed(path / runs.DATA, **old)
    again = runs.load_dataset(path)
    assert all(s.dtype == np.uint8 for s in again.train)
    for a, b in zip([*again.train, *again.val], [*train, *val], strict=True):
        np.testing.assert_array_equal(a, b)


MEMORY_PROBE = textwrap.dedent(
    """
    import json, os, sys, threading, time
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    import numpy as np
    import tensorflow as tf
    from musegen.config import DataConfig, ModelConfig, RunConfig, TrainConfig
    from musegen.streams.frames import frame_training_data

    def rss():
        with open("/proc/self/status") as fh:
            return next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmRSS:"))

    n_pieces, length = int(sys.argv[1]), int(sys.argv[2])
    rng = np.random.default_rng(0)
    pieces = [(rng.random((length, 88)) < 0.05).astype(np.uint8) for _ in range(n_pieces)]
    tf.constant(1) + 1  # TensorFlow started before the baseline
    config = RunConfig(
        data=DataConfig(representation="pianoroll", window=256, stride=128, transpose=(-5, 6)),
        model=ModelConfig(arch="wavenet"), train=TrainConfig(batch_size=8),
    )
    warm = frame_training_data(pieces[:2], [], config, 8, seed=0)  # trace the tf.data functions once
    for _ in warm.train.take(2):
        pass
    base, peak, done = rss(), [0], threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], rss())
            time.sleep(0.002)

    thread = threading.Thread(target=sample)
    thread.start()
    data = frame_training_data(pieces, pieces[:2], config, 8, seed=0)
    count = sum(1 for _ in data.train)
    count += sum(1 for _ in data.val)
    done.set()
    thread.join()
    print(json.dumps({"growth": max(peak[0], rss()) - base, "batches": count, "samples": data.samples}))
    """
)


@pytest.mark.slow
def test_memory_does_not_grow_with_piece_length():
    """40,000 frames as 200 pieces of 200 or 10 of 4,000, one epoch in 12 keys: about the same memory."""

    def probe(n_pieces, length):
        out = subprocess.run(
            [sys.executable, "-c", MEMORY_PROBE, str(n_pieces), str(length)],
            capture_output=True,
            text=True,
            check=True,
            timeout=300,
        )
        return json.loads(out.stdout.strip().splitlines()[-1])

    short, long = probe(200, 200), probe(10, 4000)
    print(f"RSS growth: 200 x 200 frames {short['growth'] / 2**20:.1f} MB, 10 x 4,000 {long['growth'] / 2**20:.1f} MB")
    assert short["samples"] == 200 * 12 and long["samples"] == 10 * 31 * 12
    assert long["growth"] < 1.5 * short["growth"] + 32 * 2**20


@pytest.mark.slow
def test_a_piano_roll_run_trains_on_the_stream_and_resumes_from_its_uint8_data(chorales, tmp_path):
    """Through the real ``train``: long pieces cut into windows, 3 keys on the fly, validation in scoring
    windows; the run folder stores each piece once as uint8, and the run resumes from it."""
    from musegen.datasets.dataset import build_dataset
    from musegen.training.loop import train

    cfg = DataConfig(representation="pianoroll", window=48, stride=24, transpose=(-1, 1), val_fraction=0.25)
    data = build_dataset(chorales[:8], cfg)
    model = ModelConfig(arch="wavenet", embed_dim=8, channels=8, skip_channels=8, dilation_cycle=3)
    config = RunConfig(data=cfg, model=model, train=TrainConfig(epochs=1, batch_size=8, learning_rate=3e-3))
    index = frames.training_windows(frames.FrameStore.from_pieces(data.train), 48, 24)
    widths = frames.batch_widths(index.length, 48)
    expected = bucket_batch_count(widths, 48, 8, repeats=3)  # every window in 3 keys, by length
    assert any(len(p) - 1 > 48 + 9 for p in data.val)  # a validation piece is cut (receptive field 9)
    result = train(config, data, tmp_path / "run", evaluate=False)
    assert result.status == "finished" and result.history.batches_per_epoch == expected
    assert math.isfinite(result.history.epochs[0].val_loss)
    assert result.history.batches[-1].batch == result.history.batches_per_epoch  # the epoch ran to its end
    stored = runs.load_dataset(tmp_path / "run")
    assert len(stored.train) == len(data.train) and all(s.dtype == np.uint8 for s in stored.train)
    config.train.epochs = 2
    again = train(config, stored, tmp_path / "run", resume=True, evaluate=False)
    assert again.epochs_done == 2
