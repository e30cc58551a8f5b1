"""Surprise: the NLL of every element and every note of one piece, the same mean as the held-out scoring.

The note mapping (Representation.element_notes) is checked without TensorFlow on real chorales and
on malformed sequences; the NLLs with real Keras models: the bundled demo WaveNet (timed tokens),
untrained piano-roll models (independent and NADE heads), an untrained tutorial model, and a
piano-roll run trained for one epoch.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from musegen import runs
from musegen.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from musegen.errors import DatasetError, MidiReadError
from musegen.evaluation.surprise import Surprise, surprise, surprise_of_run
from musegen.notes import END, PITCH, START, Piece, make_notes
from musegen.output.plots import surprise_chart
from musegen.representations.registry import NAMES, for_config
from tests.midi_factory import piece_midi

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "assets" / "models" / "demo-wavenet"
TINY_WAVENET = ModelConfig(arch="wavenet", embed_dim=16, channels=16, skip_channels=16, dilation_cycle=5)  # reads 33


def _fitted(name: str, pieces: list[Piece]):
    rep = for_config(DataConfig(representation=name))
    rep.fit_vocab([rep.sequence(p) for p in pieces])
    return rep


# --------------------------------------------------------------------------- the note mapping (no TensorFlow)


@pytest.mark.parametrize("name", NAMES)
def test_every_note_has_elements_in_decode_order(name, chorales):
    rep = _fitted(name, chorales[:6])
    for piece in chorales[:6]:
        ids = rep.encode(piece)
        decoded = rep.decode(ids)
        pairs = rep.element_notes(ids)
        assert pairs.dtype == np.int64 and pairs.shape[1] == 2
        assert np.array_equal(np.unique(pairs[:, 1]), np.arange(decoded.n_notes))  # every note, no other
        assert pairs[:, 0].min() >= 0 and pairs[:, 0].max() < np.asarray(ids).size
        notes = decoded.notes[pairs[:, 1]]
        if name == "pianoroll":  # a note's cells: its key, frames from its start to its end
            t, k = np.divmod(pairs[:, 0], 88)
            assert np.array_equal(k + 21, notes[:, PITCH])
            assert np.all((notes[:, START] <= t / 4) & (t / 4 < notes[:, END]))
            assert len(pairs) == int(np.asarray(ids).sum())  # every sounding cell belongs to one note
        else:
            tokens = rep.vocab.decode(ids)
            for (element, _), note in zip(pairs, notes, strict=True):
                token = tokens[element]
                if token.startswith("Pitch_"):
                    assert int(token[6:]) == note[PITCH]
            if name == "classic":  # one event a note; a chord's notes share it
                assert np.allclose(notes[:, START], pairs[:, 0] * 0.5)
            elif name == "performance":  # note-on and note-off of every note, the shifts and velocity before it
                kinds = [tokens[e].split("_")[0] for e in pairs[:, 0]]
                assert kinds.count("NoteOn") == kinds.count("NoteOff") == decoded.n_notes
                assert len(set(pairs[:, 0].tolist())) == len(pairs)  # no event in two notes
            else:  # pitch and duration of every note, and each onset's shifts for its lowest note
                kinds = [tokens[e].split("_")[0] for e in pairs[:, 0]]
                assert kinds.count("Pitch") == kinds.count("Duration") == decoded.n_notes
                assert len(set(pairs[:, 0].tolist())) == len(pairs)  # no token in two notes


def test_timed_mapping_follows_the_repairs_of_decode():
    rep = for_config(DataConfig(representation="timed"))
    tokens = ["Pitch_64", "Pitch_60", "Duration_4", "Duration_2", "TimeShift_4", "TimeShift_4", "Pitch_67"]
    tokens += ["TimeShift_2"]  # trailing: no note
    ids = rep.ids(tokens)
    decoded = rep.decode(ids)
    assert decoded.n_notes == 3  # 64 without a duration (one beat), 60 with 4, 67 at beat 2 without one
    pairs = rep.element_notes(ids)
    by_note = {n: sorted(int(e) for e in pairs[pairs[:, 1] == n, 0]) for n in range(3)}
    order = decoded.notes[:, PITCH].tolist()
    assert order == [60, 64, 67]
    assert by_note[0] == [2, 3]  # Pitch_60 (id 2: after <bos>) and Duration_4
    assert by_note[1] == [1]  # Pitch_64 alone; the stray Duration_2 belongs to no note
    assert by_note[2] == [5, 6, 7]  # the two shifts that lead to its onset and Pitch_67
    assert 8 not in pairs[:, 0] and 4 not in pairs[:, 0]


def test_a_classic_chord_shares_its_event():
    rep = _fitted("classic", [Piece("c", make_notes([(0, 1, 60, 80), (0, 1, 64, 80), (0, 1, 67, 80), (1, 2, 62, 80)]))])
    ids = rep.encode(Piece("c", make_notes([(0, 1, 60, 80), (0, 1, 64, 80), (0, 1, 67, 80), (1, 2, 62, 80)])))
    pairs = rep.element_notes(ids)
    assert pairs[:, 0].tolist() == [1, 1, 1, 2] and sorted(pairs[:, 1].tolist()) == [0, 1, 2, 3]


# --------------------------------------------------------------------------- NLLs through real models


@pytest.fixture(scope="module")
def demo():
    from musegen.generation.compose import Composer

    return Composer(DEMO)


@pytest.mark.slow
def test_token_run_mean_is_the_heldout_scoring_of_the_same_sequence(demo):
    window, arch = demo.config.data.window, demo.config.model.arch
    _, ids = demo.pieces()[0]
    result = surprise(demo.model, demo.rep, ids, window, arch)
    assert result.mean_nll == pytest.approx(demo.rep.score(demo.model, [ids], window, arch)["nll"], abs=1e-4)
    assert np.isnan(result.element_nll[0]) and not np.isnan(result.element_nll[1:]).any()
    assert result.targets == len(ids) - 1 and result.unit == "token"
    # each token in exactly one note: the notes' NLL plus that of the tokens of no note is the piece's
    unattributed = np.setdiff1d(np.arange(1, len(ids)), result_pairs(demo, ids))
    assert np.nansum(result.note_nll) + result.element_nll[unattributed].sum() == pytest.approx(result.total_nll)


def result_pairs(composer, ids) -> np.ndarray:
    return np.unique(composer.rep.element_notes(ids)[:, 0])


@pytest.mark.slow
def test_a_piece_longer_than_the_window_is_scored_in_windows(demo):
    window, arch = demo.config.data.window, demo.config.model.arch
    long = np.concatenate([demo.pieces()[i][1] if i == 0 else demo.pieces()[i][1][1:] for i in range(4)])
    assert len(long) > 8 * window
    result = surprise(demo.model, demo.rep, long, window, arch)
    assert result.targets == len(long) - 1
    assert result.mean_nll == pytest.approx(demo.rep.score(demo.model, [long], window, arch)["nll"], abs=1e-4)
    assert len(result.note_nll) == result.piece.n_notes and not np.isnan(result.note_nll).any()


@pytest.mark.slow
def test_a_training_piece_surprises_the_model_less_than_random_pitches(demo):
    held_out = sum(1 for label, _ in demo.pieces() if label.startswith("held-out"))
    trained = demo.rep.decode(demo.pieces()[held_out + 3][1], "trained")
    notes = trained.notes.copy()
    notes[:, PITCH] = np.random.default_rng(0).integers(40, 85, len(notes))  # the same rhythm, random pitches
    random = Piece("random", make_notes(notes))
    seen, noise = surprise_of_run(demo, trained), surprise_of_run(demo, random)
    assert seen.heldout_nll == pytest.approx(demo.run.metrics.model.nll)
    assert seen.mean_nll < seen.heldout_nll + 0.5 < noise.mean_nll
    assert np.nanmean(seen.note_nll) < np.nanmean(noise.note_nll)
    top = noise.top(5)
    assert len(top) == 5 and list(noise.note_nll[top]) == sorted(noise.note_nll[top], reverse=True)


@pytest.mark.slow
def test_an_uploaded_file_a_stored_piece_and_the_json(demo, chorales):
    uploaded = surprise_of_run(demo, piece_midi(chorales[5]), name="mine.mid")
    assert uploaded.label.startswith("uploaded: mine.mid") and uploaded.piece.n_notes > 0
    stored = surprise_of_run(demo, 0)
    assert stored.label == demo.pieces()[0][0] and stored.run_id == "demo-wavenet"
    d = json.loads(json.dumps(stored.to_dict()))
    assert d["unit"] == "token" and d["mean_nll"] == round(stored.mean_nll, 4) and d["heldout_nll"] > 0
    assert len(d["notes"]) == stored.piece.n_notes and len(d["top"]) == 10
    assert set(d["notes"][0]) >= {"start", "end", "pitch", "nll"}
    assert d["top"][0]["nll"] == max(row["nll"] for row in d["notes"])
    chart = surprise_chart(stored.piece, stored.note_nll).to_dict()
    assert chart["layer"][1]["encoding"]["color"]["title"] == "NLL (nats)"
    with pytest.raises(MidiReadError, match="not a MIDI file"):
        surprise_of_run(demo, b"<html></html>", name="page.mid")
    with pytest.raises(DatasetError, match="nothing for the model to predict"):
        surprise_of_run(demo, Piece("empty", make_notes([])))


def _frame_model(model: ModelConfig, window: int = 32):
    rep = for_config(DataConfig(representation="pianoroll"))
    config = RunConfig(data=DataConfig(representation="pianoroll", window=window), model=model)
    return rep, rep.build_model(config)


@pytest.mark.slow
@pytest.mark.parametrize(
    "model",
    [TINY_WAVENET, ModelConfig(arch="lstm", embed_dim=16, units=24, layers=1, head="nade", nade_hidden=24)],
    ids=["independent", "nade"],
)
def test_piano_roll_mean_is_the_heldout_scoring_and_notes_sum_their_keys(model, chorales):
    rep, net = _frame_model(model)
    frames = rep.encode(chorales[0])
    result = surprise(net, rep, frames, 32, model.arch)
    assert result.unit == "frame" and result.cell_nll.shape == frames.shape
    assert result.mean_nll == pytest.approx(rep.score(net, [frames], 32, model.arch)["nll"], abs=1e-4)
    np.testing.assert_allclose(result.element_nll[1:], result.cell_nll[1:].sum(-1))
    pairs = rep.element_notes(frames)
    cells = result.cell_nll.reshape(-1)[pairs[:, 0]]
    for n in (0, result.piece.n_notes // 2, result.piece.n_notes - 1):
        assert result.note_nll[n] == pytest.approx(np.nansum(cells[pairs[:, 1] == n]))


@pytest.mark.slow
def test_a_long_piano_roll_in_windows_with_context_scores_as_a_whole(chorales):
    rep, net = _frame_model(TINY_WAVENET)  # it reads 33 frames: the context of 32 and the frame itself, exact
    frames = np.concatenate([rep.encode(p) for p in chorales[:4]])
    assert len(frames) > 4 * 64
    windowed = surprise(net, rep, frames, 32, "wavenet", frame_window=64)
    whole = surprise(net, rep, frames, 32, "wavenet")
    np.testing.assert_allclose(windowed.element_nll[1:], whole.element_nll[1:], rtol=1e-4, atol=1e-4)
    assert windowed.mean_nll == pytest.approx(rep.score(net, [frames], 32, "wavenet")["nll"], abs=1e-4)


@pytest.mark.slow
def test_a_tutorial_model_is_scored_token_by_token(chorales):
    rep = _fitted("classic", chorales[:4])
    config = RunConfig(data=DataConfig(representation="classic", window=16), model=ModelConfig(arch="classic-lstm"))
    net = rep.build_model(config)
    ids = rep.encode(chorales[1])
    result = surprise(net, rep, ids, 16, "classic-lstm")
    assert result.mean_nll == pytest.approx(rep.score(net, [ids], 16, "classic-lstm")["nll"], abs=1e-4)
    assert result.piece.n_notes == len(result.note_nll) and not np.isnan(result.note_nll).any()


@pytest.mark.slow
def test_a_piano_roll_run_with_one_held_out_piece_scores_it_as_its_metrics(chorales, tmp_path):
    from musegen.datasets.dataset import build_dataset
    from musegen.training.loop import train

    data = DataConfig(representation="pianoroll", window=32, stride=32, val_fraction=0.2)
    config = RunConfig(data=data, model=TINY_WAVENET, train=TrainConfig(epochs=1, batch_size=16, seed=0))
    dataset = build_dataset(chorales[:5], data)
    assert len(dataset.val) == 1
    run_dir = runs.create_run(tmp_path, config, dataset.vocab, name="roll")
    train(config, dataset, run_dir)
    result = surprise_of_run(run_dir, 0)
    assert isinstance(result, Surprise) and result.label.startswith("held-out")
    assert result.heldout_nll is not None and result.mean_nll == pytest.approx(result.heldout_nll, abs=1e-4)
    assert result.to_dict()["unit"] == "frame"
