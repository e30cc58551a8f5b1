"""Generation from a run folder: seeds (piece and position, random, uploaded MIDI), variations, MIDI."""

from __future__ import annotations

import numpy as np
import pytest

from musegen import runs
from musegen.config import Limits, SamplingConfig
from musegen.datasets.dataset import build_dataset
from musegen.errors import ConfigError, MidiReadError
from musegen.generation.compose import Composer
from musegen.output.midi import midi_bytes
from musegen.training.loop import train
from tests.midi_factory import midi_bytes as notes_midi
from tests.midi_factory import piece_midi
from tests.shared import once
from tests.training_helpers import tiny_config

pytestmark = pytest.mark.slow  # trains real models or runs real processes: `pytest -m "not slow"` skips it


@pytest.fixture(scope="module", params=["wavenet", "classic-lstm"])
def composer(request, chorales, tmp_path_factory) -> Composer:
    """A tiny model of each family trained for one epoch on six chorales."""

    def build() -> Composer:
        config = tiny_config(request.param, epochs=1)
        data = build_dataset(chorales[:6], config.data)
        run_dir = runs.create_run(tmp_path_factory.mktemp("runs"), config, data.vocab)
        train(config, data, run_dir, evaluate=False)
        return Composer(run_dir)

    return once(("compose", request.param), build)


def test_pieces_list_held_out_first_with_token_ids(composer):
    pieces = composer.pieces()
    assert pieces[0][0].startswith("held-out")
    assert all(ids[0] == composer.vocab.bos_id for _, ids in pieces)
    assert len(pieces) == 6


def test_seed_from_a_piece_position_decodes_the_same_tokens(composer):
    label, ids = composer.pieces()[1]
    seed = composer.seed_from_piece(1, start=5, length=20)
    assert np.array_equal(seed.ids, ids[5:25])
    assert seed.piece.n_notes > 0 and seed.end_beats > 0
    assert seed.end_beats >= seed.piece.notes[:, 0].max()  # continuations start after the last seed onset
    assert label in seed.label and "tokens 5-25" in seed.label


def test_compose_variations_reproducible_and_joined(composer):
    seed = composer.seed_from_piece(0, 0, 16)
    sampling = SamplingConfig(length=24, temperature=1.0, top_p=0.95, seed=7, variations=2)
    comp = composer.compose(seed, sampling)
    again = composer.compose(seed, SamplingConfig(length=24, temperature=1.0, top_p=0.95, seed=7, variations=2))
    assert len(comp.continuations) == 2 and comp.token_counts == [24, 24]
    assert np.array_equal(comp.continuations[0].notes, again.continuations[0].notes)
    joined = comp.joined(0)
    assert joined.n_notes == seed.piece.n_notes + comp.continuations[0].n_notes
    cont = comp.continuations[0]
    if cont.n_notes:
        assert joined.notes[:, 0].max() == pytest.approx(cont.notes[:, 0].max() + seed.end_beats)


def test_midi_has_the_seed_on_its_own_track(composer):
    comp = composer.compose(composer.seed_from_piece(0, 0, 16), SamplingConfig(length=16, greedy=True))
    pm = comp.midi(0, tempo=90, program=40)
    names = [inst.name for inst in pm.instruments]
    assert names[0] == "seed" and all(inst.program == 40 for inst in pm.instruments)
    assert midi_bytes(pm)[:4] == b"MThd"
    without = comp.midi(0, include_seed=False)
    assert "seed" not in [inst.name for inst in without.instruments]


def test_random_seed_is_reproducible(composer):
    a, b = composer.random_seed(3, 12), composer.random_seed(3, 12)
    assert np.array_equal(a.ids, b.ids) and len(a.ids) <= 12
    unseen = {composer.random_seed(i, 12, held_out=True).label.split(",")[0] for i in range(5)}
    assert unseen == {composer.pieces()[0][0]}  # one held-out piece in this run


def test_uploaded_midi_seed(composer, chorales):
    seed = composer.seed_from_midi(piece_midi(chorales[8]), "mine.mid", length=24)
    assert seed.ids[0] == composer.vocab.bos_id and len(seed.ids) == 24
    assert seed.label.startswith("uploaded: mine.mid")
    with pytest.raises(MidiReadError, match="not a MIDI file"):
        composer.seed_from_midi(b"<html></html>", "page.mid")


def test_an_uploaded_seed_out_of_the_models_range_moves_by_octaves(composer, chorales):
    high = chorales[8].transposed(36)  # three octaves above anything the chorales use
    seed = composer.seed_from_midi(piece_midi(high), "high.mid", length=24)
    if composer.vocab.representation == "classic":  # its vocabulary holds the pitches it saw
        assert "moved down 3 octaves to fit the model" in seed.label
        plain = composer.seed_from_midi(piece_midi(chorales[8]), "plain.mid", length=24)
        assert np.array_equal(seed.ids, plain.ids)
    else:  # every MIDI pitch is a token
        assert "moved" not in seed.label and seed.piece.pitch_range()[0] >= high.pitch_range()[0]
        assert np.sum(seed.ids == composer.vocab.unk_id) == 0


def test_an_uploaded_seed_the_model_knows_nothing_of_is_refused(composer):
    # six-note chromatic clusters: chords no chorale has, in any octave
    clusters = [(i * 0.5, (i + 1) * 0.5, 50 + i + k) for i in range(8) for k in range(6)]
    data = notes_midi(clusters)
    if composer.vocab.representation == "classic":
        with pytest.raises(MidiReadError, match="none of its first 8 notes or chords is one this model knows"):
            composer.seed_from_midi(data, "clusters.mid")
    else:
        assert composer.seed_from_midi(data, "clusters.mid", length=200).piece.n_notes == 48


def test_bad_settings_say_what_to_change(composer):
    seed = composer.seed_from_piece(0, 0, 8)
    with pytest.raises(ConfigError, match="length"):
        composer.compose(seed, SamplingConfig(length=50), limits=Limits(max_generation_length=10))
    with pytest.raises(ConfigError, match="piece index"):
        composer.seed_from_piece(99)
    with pytest.raises(ConfigError, match="at least one token"):
        composer.seed_from_piece(0, 0, 0)
