"""Token representations on real chorales and tiny built pieces."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from musegen.config import DataConfig
from musegen.errors import ConfigError
from musegen.notes import Piece, make_notes, parse_pitch_name
from musegen.representations.classic import ClassicTokenizer, pitch_name
from musegen.representations.registry import for_config, for_vocab
from musegen.representations.timed import TimedTokenizer, quantize
from musegen.vocabulary import Vocabulary


def test_timed_round_trip_on_real_chorales(chorales):
    tok = TimedTokenizer(steps_per_beat=4, max_steps=32)
    for piece in chorales:
        back = tok.detokenize(tok.tokenize(piece))
        assert np.array_equal(quantize(piece, 4, 32), quantize(back, 4, 32)), piece.name


def test_timed_tokens_follow_tsd_order():
    piece = Piece("p", make_notes([(0, 1, 60, 80), (0, 0.5, 64, 80), (2, 2.25, 67, 80)]))
    tokens = TimedTokenizer(4, 32).tokenize(piece)
    assert tokens == ["Pitch_60", "Duration_4", "Pitch_64", "Duration_2", "TimeShift_8", "Pitch_67", "Duration_1"]


def test_timed_long_rest_is_chained_and_long_note_clipped():
    piece = Piece("p", make_notes([(0, 20, 60, 80), (20, 21, 62, 80)]))
    tok = TimedTokenizer(4, 32)
    tokens = tok.tokenize(piece)
    assert tokens.count("TimeShift_32") == 2 and "TimeShift_16" in tokens
    assert tokens[1] == "Duration_32"  # 20 beats clipped to 8 beats
    back = tok.detokenize(tokens)
    assert back.notes[1, 0] == 20.0


def test_triplet_grid_keeps_triplets():
    triplets = Piece("t", make_notes([(i / 3, (i + 1) / 3, 60 + i, 80) for i in range(6)]))
    on_16ths = TimedTokenizer(4, 32).detokenize(TimedTokenizer(4, 32).tokenize(triplets))
    on_12ths = TimedTokenizer(12, 96).detokenize(TimedTokenizer(12, 96).tokenize(triplets))
    assert np.allclose(on_12ths.notes[:, :2], triplets.notes[:, :2])
    assert not np.allclose(on_16ths.notes[:, :2], triplets.notes[:, :2])


def test_timed_decoder_repairs_bad_orders():
    tok = TimedTokenizer(4, 32)
    piece = tok.detokenize(
        [
            "Duration_4",
            "Pitch_60",
            "Pitch_62",
            "Duration_2",
            "TimeShift_4",
            "<pad>",
            "Pitch_200",
            "Pitch_64",
            "junk",
            "TimeShift_999",
        ]
    )
    assert piece.notes[:, 2].tolist() == [60, 62, 64]
    assert piece.notes[0, 1] - piece.notes[0, 0] == 1.0  # pitch without duration lasts one beat
    assert piece.notes[2, 0] == 1.0


def test_timed_vocabulary_is_closed_and_round_trips(tmp_path):
    vocab = TimedTokenizer(4, 32).build_vocab()
    assert vocab.tokens[:3] == ["<pad>", "<unk>", "<bos>"] and len(vocab) == 3 + 32 + 128 + 32
    vocab.save(tmp_path / "vocab.json")
    again = Vocabulary.load(tmp_path / "vocab.json")
    assert again.tokens == vocab.tokens and again.meta == vocab.meta
    tok = for_vocab(again).tokenizer
    assert isinstance(tok, TimedTokenizer) and tok.max_steps == 32


def test_encode_decode_with_unknown():
    vocab = ClassicTokenizer().build_vocab([["E4", "E4", "0.4.7"]])
    ids = vocab.encode(["E4", "never-seen", "0.4.7"])
    assert ids.dtype == np.int32 and ids[1] == vocab.unk_id
    assert vocab.decode(ids) == ["E4", "<unk>", "0.4.7"]
    assert vocab.decode([9999]) == ["<unk>"]


def test_classic_tokens_are_the_tutorials():
    piece = Piece("p", make_notes([(0, 1, 64, 80), (1, 2, 60, 80), (1, 2, 64, 80), (1, 2, 67, 80), (2, 3, 70, 80)]))
    assert ClassicTokenizer().tokenize(piece) == ["E4", "0.4.7", "B-4"]


def test_classic_decode_half_beats_and_octave_four():
    piece = ClassicTokenizer().detokenize(["E4", "0.4.7", "C#5", "<unk>", "B-3"])
    starts = sorted(set(piece.notes[:, 0].tolist()))
    assert starts == [0.0, 0.5, 1.0, 2.0]  # the unknown token is a rest
    assert np.allclose(piece.notes[:, 1] - piece.notes[:, 0], 0.5)
    chord = piece.notes[piece.notes[:, 0] == 0.5, 2].tolist()
    assert chord == [60, 64, 67]


def test_classic_min_count_maps_rare_tokens_to_unk(chorales):
    tok = ClassicTokenizer(min_token_count=5)
    lists = [tok.tokenize(p) for p in chorales]
    vocab = tok.build_vocab(lists)
    full = ClassicTokenizer(1).build_vocab(lists)
    assert len(vocab) < len(full)
    ids = np.concatenate([vocab.encode(t) for t in lists])
    assert (ids == vocab.unk_id).any()


@pytest.mark.parametrize("midi", range(12, 128))
def test_pitch_names_parse_back(midi):
    # Below C0 music21's names are ambiguous ('B-1' reads as B-flat 1), as in the tutorial.
    assert parse_pitch_name(pitch_name(midi)) == midi


def test_bad_vocabulary_is_refused():
    with pytest.raises(ConfigError, match="<pad>"):
        Vocabulary(["a", "b"], "timed")
    with pytest.raises(ConfigError):
        for_config(DataConfig(representation="words"))


notes_strategy = st.lists(
    st.tuples(st.integers(0, 400), st.integers(1, 32), st.integers(0, 127)), min_size=0, max_size=60
)


@settings(max_examples=60, deadline=None)
@given(notes_strategy)
def test_timed_encode_decode_is_identity_on_quantized_music(rows):
    tok = TimedTokenizer(4, 32)
    piece = Piece("h", make_notes([(o / 4, (o + d) / 4, p, 80) for o, d, p in rows]))
    back = tok.detokenize(tok.tokenize(piece))
    assert np.array_equal(quantize(piece, 4, 32), quantize(back, 4, 32))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(TimedTokenizer(4, 32).build_vocab().tokens), max_size=80))
def test_any_timed_token_sequence_decodes(tokens):
    piece = TimedTokenizer(4, 32).detokenize(tokens)
    assert piece.notes.shape[1] == 4
    assert (piece.notes[:, 1] > piece.notes[:, 0]).all()
    assert ((piece.notes[:, 2] >= 0) & (piece.notes[:, 2] <= 127)).all()
