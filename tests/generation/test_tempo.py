"""Generated music keeps the seed's tempo: runs record each piece's tempo, seeds carry it, outputs use it."""

from __future__ import annotations

import json

import numpy as np
import pretty_midi
import pytest

from musegen import runs
from musegen.datasets.dataset import build_dataset
from musegen.generation.compose import DEFAULT_TEMPO, Composer
from musegen.notes import Piece, make_notes
from musegen.representations.registry import for_config
from musegen.training.loop import train
from tests.cli_runner import run_musegen
from tests.midi_factory import piece_midi
from tests.training_helpers import tiny_config

pytestmark = pytest.mark.slow


def _piece(name: str, tempo_map: list[tuple[float, float]] | None, tempo: float, seed: int) -> Piece:
    rng = np.random.default_rng(seed)
    rows = [(b / 2, b / 2 + 0.5, int(rng.integers(55, 75)), 80) for b in range(64)]
    tm = None if tempo_map is None else np.array(tempo_map, dtype=np.float64)
    return Piece(name, make_notes(rows), tempo, tm)


def test_playback_tempo_is_the_mean_tempo_of_the_map():
    rep = for_config(tiny_config().data)
    steady = _piece("steady", None, 90.0, 0)
    assert rep.playback_tempo(steady) == pytest.approx(90.0)
    # 16 beats at 60 BPM (16 s) then 16 at 120 (8 s): 32 beats in 24 s = 80 BPM over the first 32 beats
    ramp = _piece("ramp", [(0.0, 60.0), (16.0, 120.0)], 60.0, 0)
    assert rep.playback_tempo(ramp, 0.0, 32.0) == pytest.approx(80.0)
    assert rep.playback_tempo(ramp, 16.0, 32.0) == pytest.approx(120.0)
    assert ramp.tempo_at(20.0) == 120.0 and ramp.tempo_at(3.0) == 60.0


def test_transposed_copies_of_same_named_pieces_keep_their_own_tempo():
    config = tiny_config("lstm", epochs=1)
    config.data.val_fraction = 0.0
    config.data.transpose = (0, 2)
    pieces = [_piece("same", None, 70.0, 1), _piece("same", None, 140.0, 2)]
    data = build_dataset(pieces, config.data)
    assert len(data.train_tempos) == len(data.train) == 6
    # each copy (+1, +2 of each piece) plays at the tempo of the piece it was moved from, not of its name
    assert data.train_tempos == [70.0, 140.0, 70.0, 140.0, 70.0, 140.0]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    config = tiny_config("lstm", epochs=1)
    config.data.val_fraction = 0.25
    config.data.transpose = (0, 1)
    pieces = [_piece(f"p{i}", [(0.0, 60.0 + 20 * i), (8.0, 60.0 + 20 * i)], 60.0 + 20 * i, i) for i in range(4)]
    data = build_dataset(pieces, config.data)
    assert len(data.train_tempos) == len(data.train) and len(data.val_tempos) == len(data.val)
    path = runs.create_run(tmp_path_factory.mktemp("runs"), config, data.vocab)
    train(config, data, path, evaluate=False)
    return path


def test_a_run_records_each_piece_tempo_and_seeds_keep_it(run_dir):
    tempos = runs.piece_tempos(run_dir)
    names = runs.piece_names(run_dir)
    assert sorted({*tempos["train"], *tempos["val"]}) == [60.0, 80.0, 100.0, 120.0]
    by_name = dict(zip(names["train"] + names["val"], tempos["train"] + tempos["val"], strict=True))
    copies = [n for n in by_name if n.endswith(" (+1)")]
    assert copies and all(by_name[n] == by_name[n.removesuffix(" (+1)")] for n in copies)  # as its piece
    composer = Composer(run_dir)
    for index, (label, _) in enumerate(composer.pieces()):
        seed = composer.seed_from_piece(index, 0, 16)
        assert seed.tempo == by_name[label.split(": ", 1)[1]]
        assert seed.piece.tempo == seed.tempo


def test_an_uploaded_seed_plays_at_its_own_tempo_and_the_midi_keeps_it(run_dir, tmp_path):
    composer = Composer(run_dir)
    seed = composer.seed_from_midi(piece_midi(_piece("upload", None, 72.0, 9), tempo=72.0), "up.mid", 24)
    assert seed.tempo == pytest.approx(72.0, abs=0.05)
    from musegen.config import SamplingConfig

    comp = composer.compose(seed, SamplingConfig(length=12, seed=1))
    assert comp.continuations[0].tempo == seed.tempo
    tempi = comp.midi(0).get_tempo_changes()[1]
    assert tempi[0] == pytest.approx(72.0, abs=0.05)
    assert comp.midi(0, tempo=150.0).get_tempo_changes()[1][0] == pytest.approx(150.0)  # the user still sets it


def test_cli_generate_keeps_the_seed_tempo_unless_told(run_dir, tmp_path):
    def generate(*extra: str) -> dict:
        out = tmp_path / f"out{len(extra)}.mid"
        cmd = ["generate", str(run_dir), "--length", "8", "--out", str(out), "--json"]
        done = run_musegen(*cmd, *extra)
        assert done.returncode == 0, done.stderr
        summary = json.loads(done.stdout)
        return summary | {"midi_tempo": pretty_midi.PrettyMIDI(str(out)).get_tempo_changes()[1][0]}

    first = Composer(run_dir).seed_from_piece(0, 0, 64).tempo
    plain = generate("--seed-piece", "0")
    assert plain["tempo"] == first and plain["midi_tempo"] == pytest.approx(first, abs=0.05)
    assert generate("--tempo", "133")["midi_tempo"] == pytest.approx(133.0, abs=0.05)


def test_runs_without_recorded_tempos_play_at_the_old_default(run_dir, tmp_path):
    import shutil

    old = tmp_path / "old"
    shutil.copytree(run_dir, old)
    record = json.loads((old / "pieces.json").read_text())
    (old / "pieces.json").write_text(json.dumps({"train": record["train"], "val": record["val"]}))
    assert runs.piece_tempos(old) == {}
    assert Composer(old).seed_from_piece(0, 0, 8).tempo == DEFAULT_TEMPO
