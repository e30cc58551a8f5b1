"""The piano-roll representation: frames <-> notes, datasets, sampling, training, generation, the CLI."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from musegen.config import DataConfig, ModelConfig, RunConfig, SamplingConfig, TrainConfig
from musegen.datasets.dataset import SequenceDataset, build_dataset
from musegen.datasets.stats import dataset_stats
from musegen.errors import ConfigError
from musegen.notes import Piece, make_notes
from musegen.representations.pianoroll import (
    N_KEYS,
    PianoRollTokenizer,
    check_frames,
    frames_to_piece,
    piece_to_frames,
    sample_frames,
    transpose_frames,
)
from musegen.representations.registry import check, for_config, for_vocab
from musegen.streams.windows import sequence_windows
from tests.shared import once

TINY = {
    "wavenet": ModelConfig(arch="wavenet", embed_dim=16, channels=16, skip_channels=16, dilation_cycle=4),
    "lstm": ModelConfig(arch="lstm", embed_dim=16, units=24, layers=1),
}


def frames_of(rows: list[list[int]], keys: int = N_KEYS) -> np.ndarray:
    """(T, 88) frames with the given key indices down in each row."""
    out = np.zeros((len(rows), keys), np.uint8)
    for t, row in enumerate(rows):
        out[t, row] = 1
    return out


# ------------------------------------------------------------------ frames <-> notes


def test_a_chorale_survives_frames_to_notes_and_back(chorales):
    piece = chorales[0]
    frames = piece_to_frames(piece, 4)
    assert frames.shape == (round(piece.length_beats * 4), N_KEYS)
    assert frames.dtype == np.uint8 and 1 <= frames.sum(1).max() <= 4  # four voices at most
    again = frames_to_piece(frames, 4, name="back", tempo=90.0)
    np.testing.assert_array_equal(piece_to_frames(again, 4), frames)
    assert again.tempo == 90.0 and again.name == "back"
    # every note of the chorale sounds in the frames at its onset
    for start, _, pitch, _ in piece.notes:
        assert frames[round(start * 4), int(pitch) - 21] == 1
    # repeated notes of a voice merge into held notes: never more notes than the original
    assert 0 < again.n_notes <= piece.n_notes


def test_held_frames_merge_into_one_note_and_gaps_split_them():
    frames = frames_of([[39], [39, 43], [39], [], [39]])  # C4 held 3 frames, E4 once, C4 again
    piece = frames_to_piece(frames, 2)
    assert piece.notes[:, :3].tolist() == [[0.0, 1.5, 60.0], [0.5, 1.0, 64.0], [2.0, 2.5, 60.0]]
    assert (piece.notes[:, 3] == 80).all()


def test_notes_off_the_keyboard_are_left_out_and_short_notes_last_one_frame():
    piece = Piece("p", make_notes([(0, 1, 10, 80), (0, 0.1, 60, 80), (1, 2, 120, 80), (1, 2, 108, 80)]))
    frames = piece_to_frames(piece, 4)
    assert frames.shape == (8, N_KEYS)
    assert frames[:, 39].tolist() == [1, 0, 0, 0, 0, 0, 0, 0]  # 0.1 beat rounds to one frame
    assert frames[4:, 87].all() and frames.sum() == 5
    assert piece_to_frames(Piece("empty", make_notes([])), 4).shape == (0, N_KEYS)


def test_frames_are_checked_and_transposed():
    with pytest.raises(ConfigError, match="shape"):
        check_frames(np.zeros((4, 12)))
    with pytest.raises(ConfigError, match="only 0 and 1"):
        check_frames(np.full((2, N_KEYS), 2))
    frames = frames_of([[0, 40, 87]])
    assert np.flatnonzero(transpose_frames(frames, 2)[0]).tolist() == [2, 42]  # 87 + 2 leaves the keyboard
    assert np.flatnonzero(transpose_frames(frames, -1)[0]).tolist() == [39, 86]


# ------------------------------------------------------------------ tokens, statistics, datasets


def test_the_representation_has_a_tokenizer_and_statistics(chorales):
    cfg = DataConfig(representation="pianoroll", steps_per_beat=2)
    tokenizer = for_config(cfg).tokenizer
    assert isinstance(tokenizer, PianoRollTokenizer)
    tokens = tokenizer.tokenize(chorales[0])
    assert len(tokens) == len(piece_to_frames(chorales[0], 2))
    assert all(t.startswith("Frame_") for t in tokens)
    back = tokenizer.detokenize(tokens)
    np.testing.assert_array_equal(piece_to_frames(back, 2), piece_to_frames(chorales[0], 2))
    vocab = tokenizer.build_vocab()
    assert len(vocab) == 3 + N_KEYS and vocab.meta["steps_per_beat"] == 2
    assert for_vocab(vocab).steps_per_beat == 2
    stats = dataset_stats(chorales[:3], cfg)
    assert stats.events == sum(len(piece_to_frames(p, 2)) for p in chorales[:3])
    assert stats.token_histogram[0][0].startswith("Frame_")


def test_a_pianoroll_dataset_splits_by_piece_drops_copies_and_transposes(chorales):
    pieces = [*chorales[:6], Piece("copy", chorales[0].notes.copy())]
    cfg = DataConfig(representation="pianoroll", val_fraction=0.34, transpose=(-1, 1))
    data = build_dataset(pieces, cfg)
    assert isinstance(data, SequenceDataset)
    assert data.duplicates == ["copy"]
    # 4 training pieces, each stored once: the training pipeline moves every example into the 3 keys
    # on the fly (tests/datasets/test_frames.py), so no transposed copy is stored
    assert (len(data.val), len(data.train)) == (2, 4)
    assert not set(data.val_names) & set(data.train_names)
    assert not any("(+1)" in name or "(-1)" in name for name in data.train_names)
    assert data.config.transpose == (-1, 1)
    assert data.summary()["val_tokens"] == sum(len(v) - 1 for v in data.val)


def test_windows_predict_the_next_frame_with_a_padding_mask():
    seq = frames_of([[1], [2], [3], [4], [5]])
    x, y, w = sequence_windows([seq, seq[:2]], window=3, stride=3, pad=0.0)
    assert x.shape == y.shape == (3, 3, N_KEYS) and w.shape == (3, 3)
    assert [np.flatnonzero(f).tolist() for f in x[0]] == [[1], [2], [3]]
    assert [np.flatnonzero(f).tolist() for f in y[0]] == [[2], [3], [4]]
    assert w.tolist() == [[1, 1, 1], [1, 1, 1], [1, 0, 0]]  # last window aligned to the end; short piece padded
    assert [np.flatnonzero(f).tolist() for f in y[1]] == [[3], [4], [5]]


# ------------------------------------------------------------------ sampling


def test_sampling_is_per_key_bernoulli_with_temperature_and_top_k():
    logits = np.where(np.arange(N_KEYS) < 4, 3.0, -3.0)[None].repeat(2000, 0)
    greedy = sample_frames(logits, SamplingConfig(greedy=True), np.random.default_rng(0))
    assert (greedy.sum(1) == 4).all()
    plain = {"temperature": 1.0, "top_k": 0}  # the defaults (tuned for tokens) sharpen and cap
    drawn = sample_frames(logits, SamplingConfig(**plain), np.random.default_rng(0))
    share_on = drawn[:, :4].mean()
    assert abs(share_on - 1 / (1 + np.exp(-3))) < 0.02  # sigmoid(3) = 0.953
    assert abs(drawn[:, 4:].mean() - 1 / (1 + np.exp(3))) < 0.01
    hot = sample_frames(logits, SamplingConfig(temperature=3.0, top_k=0), np.random.default_rng(0))
    assert hot[:, 4:].mean() > drawn[:, 4:].mean() * 3  # a higher temperature flattens toward 1/2
    capped = sample_frames(logits, SamplingConfig(top_k=2, temperature=1.0), np.random.default_rng(0))
    assert capped.sum(1).max() <= 2
    again = sample_frames(logits, SamplingConfig(**plain), np.random.default_rng(0))
    np.testing.assert_array_equal(again, drawn)


# ------------------------------------------------------------------ models, training, generation


def frame_config(arch: str, **train: object) -> RunConfig:
    settings = {"epochs": 3, "batch_size": 8, "learning_rate": 5e-3, "patience": 0, **train}
    return RunConfig(
        data=DataConfig(representation="pianoroll", steps_per_beat=2, window=48, stride=24, val_fraction=0.25),
        model=TINY[arch],
        train=TrainConfig(**settings),  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module", params=["wavenet", "lstm"])
def trained(request, chorales, tmp_path_factory):
    from musegen import runs
    from musegen.training.loop import train

    def build():
        config = frame_config(request.param)
        data = build_dataset(chorales[:8], config.data)
        run_dir = runs.create_run(tmp_path_factory.mktemp("runs"), config, data.vocab)
        return request.param, config, data, train(config, data, run_dir)

    return once(("frames", request.param), build)


@pytest.mark.slow
def test_frame_models_train_and_are_scored_per_frame(trained):
    _arch, _, data, result = trained
    losses = [e.loss for e in result.history.epochs]
    assert result.status == "finished" and losses[-1] < losses[0]
    metrics = result.metrics
    assert metrics.representation == "pianoroll" and metrics.unit == "frame"
    assert metrics.model.frames == sum(len(v) - 1 for v in data.val)
    assert metrics.model.nll < metrics.uniform_nll == pytest.approx(N_KEYS * np.log(2))
    assert metrics.baseline.kind.startswith("per-key Markov")


@pytest.mark.slow
def test_a_saved_frame_model_reloads_safely_and_predicts_the_same(trained):
    from musegen import runs
    from musegen.models import load_model

    _, _, data, result = trained
    model = load_model(result.run_dir / runs.MODEL)  # safe_mode=True
    assert model.inputs[0].shape[1:] == (None, N_KEYS) and model.outputs[0].shape[-1] == N_KEYS
    x = data.val[0][None, :20].astype(np.float32)
    np.testing.assert_allclose(
        np.asarray(model(x)), np.asarray(runs.load_run_model(result.run_dir)(x)), rtol=1e-5, atol=1e-5
    )


@pytest.mark.slow
def test_a_frame_run_generates_valid_frames_and_midi(trained):
    import pretty_midi

    from musegen.generation.compose import Composer
    from musegen.output.midi import midi_bytes

    _, _, _, result = trained
    composer = Composer(result.run_dir)
    seed = composer.seed_from_piece(0, start=2, length=16)
    assert seed.ids.shape == (16, N_KEYS) and seed.end_beats == 8.0
    comp = composer.compose(seed, SamplingConfig(length=24, variations=2, seed=3, top_k=6))
    assert comp.token_counts == [24, 24]
    for piece in comp.continuations:
        assert piece.n_notes > 0 and piece.length_beats <= 12.0
        assert piece.notes[:, 2].min() >= 21 and piece.notes[:, 2].max() <= 108
    midi = pretty_midi.PrettyMIDI(io.BytesIO(midi_bytes(comp.midi(0, tempo=100.0))))
    assert sum(len(i.notes) for i in midi.instruments) == seed.piece.n_notes + comp.continuations[0].n_notes
    same = composer.compose(seed, SamplingConfig(length=24, variations=2, seed=3, top_k=6))
    np.testing.assert_array_equal(same.continuations[1].notes, comp.continuations[1].notes)
    assert composer.tokens_for_seconds(30, 120) >= 2 * 60  # 2 frames per beat, 60 beats
    assert composer.reference_pieces(2)[0].n_notes > 0


@pytest.mark.slow
def test_a_frame_seed_below_the_keyboard_moves_up_an_octave(trained):
    from musegen.generation.compose import Composer
    from tests.midi_factory import midi_bytes

    composer = Composer(trained[3].run_dir)
    low = midi_bytes([(i * 0.5, (i + 1) * 0.5, p) for i, p in enumerate([9, 11, 12, 14, 16])])  # below A0
    seed = composer.seed_from_midi(low, "low.mid")
    assert "moved up 1 octave to fit the model" in seed.label
    assert seed.piece.pitch_range() == (21, 28) and int(seed.ids.sum()) > 0


@pytest.mark.slow
def test_a_frame_run_resumes_with_its_loss(trained, tmp_path):
    from musegen import runs
    from musegen.training.loop import train

    _, config, _, result = trained
    run_dir = tmp_path / "copy"
    shutil.copytree(result.run_dir, run_dir)
    config.train.epochs = 4
    resumed = train(config, runs.load_dataset(run_dir), run_dir, resume=True, evaluate=False)
    assert resumed.epochs_done == 4 and len(resumed.history.epochs) == 4


@pytest.mark.slow
@pytest.mark.parametrize("arch", list(TINY))
@pytest.mark.parametrize("seed_length", [1, 20])
def test_incremental_decoding_equals_the_full_pass_on_frames(arch, seed_length):
    from musegen.models import build_frame_model
    from musegen.models.incremental import make_stepper

    model = build_frame_model(TINY[arch])
    x = (np.random.default_rng(seed_length).random((2, 32, N_KEYS)) < 0.1).astype(np.float32)
    full = np.asarray(model(x, training=False))
    stepper = make_stepper(model, batch_size=2)
    np.testing.assert_allclose(stepper.prime(x[:, :seed_length]), full[:, seed_length - 1], atol=1e-4)
    for t in range(seed_length, x.shape[1]):
        np.testing.assert_allclose(stepper.step(x[:, t]), full[:, t], atol=1e-4, err_msg=f"frame {t}")


def test_classic_models_do_not_read_frames():
    config = frame_config("wavenet")
    config.model = ModelConfig(arch="classic-lstm")
    with pytest.raises(ConfigError, match="wavenet or lstm"):
        check(config)


@pytest.mark.slow
def test_train_ingest_and_generate_from_the_command_line(tmp_path, capsys):
    from musegen.cli import main

    flags = ["--max-pieces", "6", "--window", "32", "--stride", "16", "--val-fraction", "0.34", "--batch-size", "8"]
    sizes = ["--embed-dim", "8", "--units", "16", "--layers", "1", "--epochs", "1"]
    train = ["train", "--arch", "lstm", "--repr", "pianoroll", *flags, *sizes, "--runs-dir", str(tmp_path), "--json"]
    assert main(train) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["metrics"]["representation"] == "pianoroll"
    out = tmp_path / "gen.mid"
    assert main(["generate", report["run_dir"], "--length", "16", "--seed", "1", "--out", str(out), "--json"]) == 0
    capsys.readouterr()
    assert out.is_file() and out.stat().st_size > 0
    assert main(["ingest", "--repr", "pianoroll", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)["stats"]
    assert stats["vocab_size"] == 3 + N_KEYS and stats["token_histogram"][0][0].startswith("Frame_")


@pytest.mark.slow
def test_the_app_trains_and_generates_a_pianoroll_model(tmp_path, monkeypatch):
    """Dataset page: pick the piano roll; Train page: a tiny LSTM in the worker; Generate page: music."""
    import time

    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("MUSEGEN_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("MUSEGEN_DEMO_DIR", str(tmp_path / "demo"))
    root = Path(__file__).resolve().parents[2]
    at = AppTest.from_file(str(root / "streamlit_app.py"), default_timeout=240).run()
    at.switch_page("pages/1_Dataset.py").run()
    next(s for s in at.selectbox if s.label == "Representation").set_value("pianoroll").run()
    next(n for n in at.number_input if n.label.startswith("Window length")).set_value(32).run()
    assert not at.exception and at.session_state["dataset"].data.representation == "pianoroll"
    assert [m.label for m in at.metric][2:4] == ["Frames", "Keys"]
    at.switch_page("pages/2_Train.py").run()
    next(s for s in at.selectbox if s.label == "Architecture").set_value("lstm").run()
    for label, value in [("Epochs", 1), ("Use at most", 6), ("Embedding", 8), ("LSTM units", 16)]:
        next(n for n in at.number_input if n.label.startswith(label)).set_value(value)
    at.run()
    next(b for b in at.button if b.label == "Start training").click().run()
    assert not at.exception and not at.error
    run_dir = at.session_state["train_run"]
    from musegen.training.jobs import job_status

    deadline = time.time() + 240
    while job_status(run_dir).active and time.time() < deadline:
        time.sleep(1)
    assert job_status(run_dir).state == "finished", job_status(run_dir).message
    at.run()  # the Train page shows the held-out scores per frame
    table = at.dataframe[0].value
    assert list(table["model"]) == ["lstm + NADE head", "per-key Markov floor", "uniform guess"]  # the default head
    assert table["perplexity"].iloc[2] == pytest.approx(2.0)  # a fair coin per key
    assert any("frames**" in m.value for m in at.markdown)
    at.switch_page("pages/3_Generate.py").run()
    labels = [n.label for n in at.number_input]
    assert "Length (frames)" in labels and "Seed length (frames)" in labels  # not "tokens"
    next(n for n in at.number_input if n.label.startswith("Length")).set_value(32).run()
    next(b for b in at.button if b.label == "Generate").click().run()
    assert not at.exception and not at.error
    assert len(at.get("audio")) >= 3  # the seed and one per variation
    assert any("of 32 frames" in c.value for c in at.caption)
