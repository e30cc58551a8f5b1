"""The longest passage a generated piece shares with the training pieces, in any transposition."""

from __future__ import annotations

import json

import numpy as np
import pytest

from musegen.metrics.originality import Copy, OriginalityIndex, copy_rate, passage_symbols
from musegen.notes import Piece, make_notes


def _piece(name: str, pitches, onsets, duration: float = 0.5) -> Piece:
    rows = [(float(o), float(o) + duration, int(p), 80) for p, o in zip(pitches, onsets, strict=True)]
    return Piece(name, make_notes(rows))


def _random_piece(rng: np.random.Generator, name: str, n: int, chords: bool = True) -> Piece:
    steps = rng.choice([0.0, 0.5, 1.0] if chords else [0.5, 1.0], n)
    onsets = np.cumsum(steps)
    pitches = 60 + rng.integers(-12, 13, n)
    return _piece(name, pitches, onsets)


def _brute_force(generated: Piece, training: list[Piece]) -> int:
    """The longest passage in notes, straight from the definition: the same onset steps and the
    same pitch offset for every note (onsets on a grid of 1/12 beat), no symbols, no hashes."""

    def sorted_notes(p: Piece) -> tuple[np.ndarray, np.ndarray]:
        ticks = np.rint(p.notes[:, 0] * 12).astype(int)
        pitches = p.notes[:, 2].astype(int)
        order = np.lexsort((pitches, ticks))
        return ticks[order], pitches[order]

    if not generated.n_notes or not any(p.n_notes for p in training):
        return 0
    g_ticks, g_pitches = sorted_notes(generated)
    best = 1
    for piece in training:
        t_ticks, t_pitches = sorted_notes(piece)
        for g in range(len(g_ticks)):
            for t in range(len(t_ticks)):
                k = 1
                while (
                    g + k < len(g_ticks)
                    and t + k < len(t_ticks)
                    and g_pitches[g + k] - t_pitches[t + k] == g_pitches[g] - t_pitches[t]
                    and g_ticks[g + k] - g_ticks[g + k - 1] == t_ticks[t + k] - t_ticks[t + k - 1]
                ):
                    k += 1
                best = max(best, k)
    return best


def test_a_transposed_excerpt_is_found_where_it_was_taken():
    rng = np.random.default_rng(0)
    training = [_random_piece(rng, f"chorale {i}", 300, chords=False) for i in range(6)]
    source = training[4]
    excerpt = source.notes[120:140].copy()  # 20 notes
    excerpt[:, 2] += 3  # a minor third up
    start = source.notes[120, 0]
    before = _random_piece(rng, "intro", 40).notes
    offset = before[-1, 0] + 7.0  # far enough from the intro that no chord merges with it
    excerpt[:, :2] += offset - start
    after = _random_piece(rng, "outro", 40).notes
    after[:, :2] += excerpt[-1, 0] + 9.0
    generated = Piece("generated", make_notes(np.concatenate([before, excerpt, after])))

    copy = OriginalityIndex.from_pieces(training).longest_copy(generated)

    assert copy.notes == 20  # the intro and the outro are too far away to extend it
    assert copy.training_piece == "chorale 4"
    assert copy.transposition == 3
    assert (copy.training_start_note, copy.generated_start_note) == (120, len(before))
    assert (copy.training_start_beats, copy.generated_start_beats) == (start, offset)
    span = float(source.notes[139, 0] - source.notes[120, 0])
    assert span > 8.0  # the excerpt covers more than two bars of onsets
    assert copy.beats == span
    assert copy.flagged
    text = copy.describe()
    assert "'chorale 4'" in text and "transposed +3" in text and "longer than two bars" in text
    assert json.loads(json.dumps(copy.to_dict()))["notes"] == copy.notes


def test_the_flag_follows_the_bar_length():
    training = [_piece("scale", range(60, 72), np.arange(12) * 1.0)]  # 12 notes, one a beat
    generated = _piece("copy", range(62, 74), 10 + np.arange(12) * 1.0)
    index = OriginalityIndex.from_pieces(training)
    copy = index.longest_copy(generated)
    assert (copy.notes, copy.beats, copy.transposition) == (12, 11.0, 2)
    assert copy.flagged  # 11 beats of onsets > two bars of 4/4
    assert not index.longest_copy(generated, beats_per_bar=6.0).flagged  # two bars of 6/4: 12 beats
    assert not index.longest_copy(generated, bars=3).flagged
    short = index.longest_copy(_piece("short", range(50, 59), np.arange(9) * 1.0))
    assert (short.notes, short.beats, short.flagged) == (9, 8.0, False)  # exactly two bars is not longer


def test_random_pieces_share_only_short_passages():
    rng = np.random.default_rng(1)
    index = OriginalityIndex.from_pieces([_random_piece(rng, f"t{i}", 400, chords=False) for i in range(20)])
    generated = [_random_piece(rng, f"g{i}", 200, chords=False) for i in range(10)]
    rate = copy_rate(index, generated)
    assert rate["pieces"] == 10
    assert rate["flagged"] == 0 and rate["flagged_share"] == 0.0
    assert 2 <= rate["mean_notes"] <= 5  # 50 intervals x 2 steps: a few notes match by chance
    assert rate["max_notes"] <= 6
    assert rate["limit_beats"] == 8.0


@pytest.mark.parametrize("case", range(80))
def test_the_length_equals_a_brute_force_search(case):
    rng = np.random.default_rng(100 + case)
    alphabet = [0, 2, -2] if case % 2 else [0, 1, -1, 5]

    def small(name: str) -> Piece:
        n = int(rng.integers(0, 25))
        pitches = 60 + np.cumsum(rng.choice(alphabet, n))
        onsets = np.cumsum(rng.choice([0.0, 0.5, 1.0] if case % 3 == 0 else [0.5, 1.0], n))
        return _piece(name, pitches, onsets)

    training = [small(f"t{i}") for i in range(int(rng.integers(0, 4)))]
    generated = small("g")
    if case % 4 == 0 and training and training[0].n_notes > 4:  # plant a transposed excerpt, near the piece
        a = int(rng.integers(0, training[0].n_notes - 4))
        excerpt = training[0].notes[a : a + int(rng.integers(4, 15))].copy()
        excerpt[:, 2] += int(rng.integers(-5, 6))
        excerpt[:, :2] += generated.length_beats + float(rng.choice([0.0, 0.5, 1.0])) - excerpt[0, 0]
        generated = Piece("g", make_notes(np.concatenate([generated.notes, excerpt])))
    copy = OriginalityIndex.from_pieces(training, hash_seed=case).longest_copy(generated)
    assert copy.notes == _brute_force(generated, training)
    if copy.notes >= 2:  # the reported place really holds the passage, transposed as said
        g_syms, g_on, g_pitch = passage_symbols(generated)
        piece = next(p for p in training if p.name == copy.training_piece)
        t_syms, t_on, t_pitch = passage_symbols(piece)
        g, t, n = copy.generated_start_note, copy.training_start_note, copy.notes
        assert g is not None and t is not None
        assert np.array_equal(g_syms[g : g + n - 1], t_syms[t : t + n - 1])
        assert g_pitch[g] - t_pitch[t] == copy.transposition
        assert (g_on[g], t_on[t]) == (copy.generated_start_beats, copy.training_start_beats)
        assert copy.beats == pytest.approx(g_on[g + n - 1] - g_on[g])


def _thue_morse(n: int) -> np.ndarray:
    return np.array([bin(i).count("1") % 2 for i in range(n)])


def _walk(bits: np.ndarray, name: str, start: float = 0.0) -> Piece:
    """A melody whose intervals are +1 for a 0 bit and -1 for a 1 bit, one note every half beat."""
    pitches = 60 + np.concatenate([[0], np.cumsum(1 - 2 * bits)])
    return _piece(name, pitches, start + np.arange(len(pitches)) * 0.5)


def test_hash_collisions_never_make_a_copy():
    # Polynomial hashes modulo 2**64 collide on a Thue-Morse string and its complement, whatever
    # the (odd) base: the index's hashes of these two 1024-interval melodies are equal.
    bits = _thue_morse(1024)
    original, complement = _walk(bits, "thue-morse"), _walk(1 - bits, "complement")
    index = OriginalityIndex.from_pieces([original], hash_seed=7)
    hasher = index._hasher
    hashes = []
    for piece in (original, complement):
        prefix, inverse = hasher.prepare(passage_symbols(piece)[0])
        hashes.append(int(hasher.windows(prefix, inverse, np.array([0]), 1024)[0]))
    assert hashes[0] == hashes[1]  # a real collision

    copy = index.longest_copy(complement)
    assert copy.notes < 1025  # the collision is checked and refused
    assert copy.notes == _longest_common_run(passage_symbols(original)[0], passage_symbols(complement)[0]) + 1


def test_a_true_copy_behind_a_colliding_window_is_still_found():
    # The generated piece holds the complement first (same hash, other notes) and the original
    # later: the first window of that hash fails the check, the second one is the copy.
    bits = _thue_morse(1024)
    index = OriginalityIndex.from_pieces([_walk(bits, "thue-morse")])
    first = _walk(1 - bits, "complement").notes
    second = _walk(bits, "again", start=first[-1, 0] + 20.0).notes
    second[:, 2] -= 7
    generated = Piece("generated", make_notes(np.concatenate([first, second])))
    copy = index.longest_copy(generated)
    assert copy.notes == 1025
    assert copy.training_piece == "thue-morse"
    assert (copy.generated_start_note, copy.training_start_note) == (1025, 0)
    assert copy.transposition == -7
    assert copy.generated_start_beats == pytest.approx(second[0, 0])


def _longest_common_run(a: np.ndarray, b: np.ndarray) -> int:
    """Longest common substring by dynamic programming, one row of b at a time."""
    best = 0
    row = np.zeros(len(b) + 1, dtype=np.int64)
    for x in a:
        new = np.zeros_like(row)
        new[1:] = np.where(b == x, row[:-1] + 1, 0)
        best = max(best, int(new.max()))
        row = new
    return best


def test_empty_and_single_note_cases():
    one = _piece("one", [60], [0.0])
    melody = _piece("melody", [60, 62, 64], [0.0, 1.0, 2.0])
    empty = Piece("empty", np.zeros((0, 4)))

    for copy in (
        OriginalityIndex.from_pieces([]).longest_copy(melody),
        OriginalityIndex.from_pieces([empty]).longest_copy(melody),
        OriginalityIndex.from_pieces([melody]).longest_copy(empty),
    ):
        assert (copy.notes, copy.flagged, copy.training_piece) == (0, False, None)
        assert "no passage" in copy.describe()
    for copy in (
        OriginalityIndex.from_pieces([melody]).longest_copy(one),
        OriginalityIndex.from_pieces([one]).longest_copy(melody),
        OriginalityIndex.from_pieces([melody]).longest_copy(_piece("down", [60, 50], [0.0, 3.0])),
    ):
        assert (copy.notes, copy.beats, copy.flagged, copy.training_piece) == (1, 0.0, False, None)
    assert copy_rate(OriginalityIndex.from_pieces([]), []) == {
        "pieces": 0,
        "flagged": 0,
        "flagged_share": 0.0,
        "mean_notes": 0.0,
        "max_notes": 0,
        "mean_beats": 0.0,
        "max_beats": 0.0,
        "limit_beats": 8.0,
    }


def test_transposed_duplicates_are_indexed_once_under_the_first_name():
    melody = _piece("bwv253", [60, 62, 64, 65, 67], [0.0, 1.0, 2.0, 3.0, 4.0])
    index = OriginalityIndex.from_pieces([melody, melody.transposed(2), melody.transposed(-3)])
    assert (index.n_pieces, index.n_notes) == (1, 5)
    assert index.nbytes > 0
    copy = index.longest_copy(melody.transposed(5))
    assert (copy.notes, copy.training_piece, copy.transposition) == (5, "bwv253", 5)
    assert OriginalityIndex.from_pieces([melody, melody.transposed(2)], dedupe=False).n_pieces == 2


def test_onsets_off_the_grid_and_unsorted_notes_are_read_in_onset_then_pitch_order():
    rows = np.array([[1.0, 2.0, 67, 80], [0.0, 1.0, 64, 80], [0.0, 1.0, 60, 80], [1.0001, 2.0, 72, 80]])
    piece = Piece("unsorted", rows)  # not sorted, one onset a hair off the grid
    symbols, onsets, pitches = passage_symbols(piece)
    assert list(pitches) == [60, 64, 67, 72]
    assert len(symbols) == 3 and onsets[0] == 0.0
    copy = OriginalityIndex.from_pieces([piece]).longest_copy(Piece("same", make_notes(rows)))
    assert copy.notes == 4


def test_a_copy_is_plain_data():
    copy = Copy(3, 1.5, 2.0, "x", 4.0, -1, False)
    assert copy.to_dict()["transposition"] == -1
    assert copy.describe().endswith("transposed -1")
    assert "not transposed" in Copy(3, 1.5, 2.0, "x", 4.0, 0, False).describe()
