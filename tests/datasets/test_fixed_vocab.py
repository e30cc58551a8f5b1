"""The base vocabulary musegen-base-timed-v1: the committed file is the generated one, the timed codec reads it, and
mapping a piece onto it counts every change."""

from __future__ import annotations

import numpy as np

from musegen.datasets.fixed_vocab import (
    BASE_VOCAB_FILE,
    BASE_VOCAB_NAME,
    base_data_config,
    base_tokenizer,
    base_vocab_json,
    base_vocabulary,
    load_base_vocabulary,
    map_piece,
)
from musegen.notes import Piece, make_notes, velocity_levels
from musegen.representations.registry import for_config, for_vocab
from musegen.vocabulary import FIM_TOKENS, SPECIALS


def test_committed_vocabulary_is_the_generated_one() -> None:
    assert BASE_VOCAB_FILE.read_text(encoding="utf-8") == base_vocab_json(), (
        "musegen/data/base_vocab.json is stale: run python -m musegen.datasets.fixed_vocab"
    )
    vocab = load_base_vocabulary()
    assert vocab.meta["name"] == BASE_VOCAB_NAME
    assert tuple(vocab.tokens[:3]) == SPECIALS and tuple(vocab.tokens[-4:]) == FIM_TOKENS
    assert len(vocab) == 3 + 96 + 128 + 96 + 32 + 4
    assert vocab.meta["steps_per_beat"] == 12 and vocab.meta["max_steps"] == 96 and vocab.meta["velocity_bins"] == 32


def test_the_timed_representation_uses_the_same_ids() -> None:
    with_fim = for_config(base_data_config(fim_rate=0.5)).vocab
    without = for_config(base_data_config()).vocab
    assert with_fim.tokens == base_vocabulary().tokens
    assert without.tokens == base_vocabulary().tokens[:-4]  # the sentinels last: every other id the same
    rep = for_vocab(load_base_vocabulary())
    assert rep.tokenizer.steps_per_beat == 12 and rep.tokenizer.velocity_bins == 32


def test_mapping_counts_every_change() -> None:
    rows = [
        (0.0, 1.0, 60, 127),  # on the grid, a velocity level: unchanged
        (1.05, 2.0, 62, 80),  # onset off the grid; 80 is not a level (79 is)
        (2.0, 20.0, 64, 1),  # 18 beats: clipped to 8; velocity 1 -> the lowest level, 4
        (3.0, 3.01, 65, 200),  # shorter than a step: lengthened; velocity above 127
        (3.0, 4.0, 65, 64),  # the same pitch at the same step: merged
        (4.0, 5.0, 130, 64),  # no MIDI pitch: dropped
    ]
    piece = Piece("synthetic", make_notes(rows), 100.0)
    tokens, report = map_piece(piece)
    assert report.notes == 6 and report.pitches_dropped == 1
    assert report.onsets_moved == 1 and report.durations_clipped == 1 and report.durations_lengthened == 1
    assert report.merged == 1 and report.kept == 4
    assert report.velocities_moved == 3  # 80, 1 and 200 (127 and 64 are levels; the dropped pitch is not counted)
    notes = base_tokenizer().detokenize(tokens).notes
    assert len(notes) == 4 and notes[2, 1] - notes[2, 0] == 8.0
    assert set(notes[:, 3].astype(int)) <= set(velocity_levels(32).tolist())
    assert all(t in base_vocabulary() for t in tokens)


def test_an_on_grid_piece_round_trips_exactly() -> None:
    levels = velocity_levels(32)
    rows = [(k / 3, k / 3 + 0.25 * (1 + k % 5), 30 + k % 60, int(levels[k % 32])) for k in range(60)]
    rows += [(30.0, 38.0, 0, int(levels[0])), (40.0, 40 + 1 / 12, 127, 127)]  # a long rest, the extremes
    piece = Piece("grid", make_notes(rows), 120.0)
    tokens, report = map_piece(piece)
    assert report.changed == 0 and report.kept == len(rows)
    back = base_tokenizer().detokenize(tokens).notes
    np.testing.assert_allclose(back, piece.notes, atol=1e-9)
