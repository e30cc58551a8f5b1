"""Musical metrics on hand-made pieces with known answers, on Bach, and Yang & Lerch set overlap."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from musegen.errors import DatasetError
from musegen.metrics.music import (
    LENGTH_LABELS,
    PERFORMANCE_FEATURES,
    PIANO_FEATURES,
    SECONDS_EDGES,
    SECONDS_LABELS,
    SET_FEATURES,
    compare_sets,
    distinct_ngram_ratio,
    excerpt,
    kl_divergence,
    longest_repeat,
    overlap_area,
    piece_stats,
    seconds_histogram,
)
from musegen.notes import Piece, make_notes


def melody(pitches: list[int], beats: float = 1.0, name: str = "melody") -> Piece:
    return Piece(name, make_notes([(i * beats, (i + 1) * beats, p, 90) for i, p in enumerate(pitches)]))


def share(hist: list[float], label: str) -> float:
    return hist[LENGTH_LABELS.index(label)]


def test_c_major_scale():
    s = piece_stats(melody([60, 62, 64, 65, 67, 69, 71]))
    assert s.n_notes == 7 and s.length_beats == 7.0
    assert s.scale_consistency == 1.0 and s.best_scale == "C major"
    assert s.pitch_class_entropy == pytest.approx(math.log2(7))
    np.testing.assert_allclose(s.pitch_class_histogram, np.isin(range(12), [0, 2, 4, 5, 7, 9, 11]) / 7)
    assert (s.polyphony, s.max_polyphony) == (1.0, 1)
    assert (s.pitch_range, s.lowest_pitch, s.highest_pitch, s.used_pitches) == (11, 60, 71, 7)
    assert s.mean_interval == pytest.approx(11 / 6)
    assert share(s.note_length_histogram, "quarter") == 1.0 and share(s.ioi_histogram, "quarter") == 1.0
    assert s.mean_ioi == 1.0
    assert s.distinct_ngram_ratio == 1.0 and s.longest_repeat == 0


def test_chromatic_scale_and_harmonic_minor():
    chromatic = piece_stats(melody(list(range(60, 72)), beats=0.5))
    assert chromatic.pitch_class_entropy == pytest.approx(math.log2(12))
    assert chromatic.scale_consistency == pytest.approx(7 / 12)
    assert share(chromatic.note_length_histogram, "eighth") == 1.0
    minor = piece_stats(melody([57, 59, 60, 62, 64, 65, 68]))
    assert minor.scale_consistency == 1.0 and minor.best_scale == "A harmonic minor"


def test_polyphony_is_time_weighted():
    chords = Piece("chords", make_notes([(b, b + 1, p, 80) for b in range(4) for p in (48, 60, 64, 67)]))
    assert (piece_stats(chords).polyphony, piece_stats(chords).max_polyphony) == (4.0, 4)
    # One note for two beats, a second one joins for the second beat: 1 then 2 -> mean 1.5.
    overlap = Piece("overlap", make_notes([(0, 2, 60, 80), (1, 2, 64, 80)]))
    assert piece_stats(overlap).polyphony == pytest.approx(1.5)
    # A rest does not count: two single notes with a gap between them.
    gap = Piece("gap", make_notes([(0, 1, 60, 80), (3, 4, 62, 80)]))
    assert piece_stats(gap).polyphony == 1.0
    assert share(piece_stats(gap).ioi_histogram, "dotted half") == 1.0


def test_triplets_and_dotted_notes_find_their_classes():
    triplets = piece_stats(melody([60, 62, 64, 65, 67, 69], beats=1 / 3))
    assert share(triplets.note_length_histogram, "eighth triplet") == 1.0
    dotted = piece_stats(melody([60, 62, 64], beats=1.5))
    assert share(dotted.note_length_histogram, "dotted quarter") == 1.0


def test_a_loop_is_repetitive():
    s = piece_stats(melody([60, 64, 67, 72] * 8, beats=0.5))
    # Note tokens are (pitch, onset step): the first has step 0, the other 31 repeat with period 4,
    # so the 29 4-grams hold 1 + 4 distinct ones and the longest repeat is 31 - 4 = 27 notes.
    assert s.distinct_ngram_ratio == pytest.approx(5 / 29)
    assert s.longest_repeat == 27 and s.longest_repeat_share == pytest.approx(27 / 32)
    assert s.pitch_class_entropy == pytest.approx(-(0.5 * math.log2(0.5) + 2 * 0.25 * math.log2(0.25)))


def test_empty_piece_gives_zeros():
    s = piece_stats(Piece("nothing", make_notes([])))
    assert s.n_notes == 0 and s.pitch_class_entropy == 0.0 and sum(s.pitch_class_histogram) == 0.0
    assert s.to_dict()["name"] == "nothing"


def test_longest_repeat_small_cases():
    assert longest_repeat(np.array([ord(c) for c in "banana"])) == 3  # "ana"
    assert longest_repeat(np.array([1, 2, 3, 4])) == 0
    assert longest_repeat(np.array([5, 5, 5, 5, 5])) == 4
    assert longest_repeat(np.array([7])) == 0
    assert distinct_ngram_ratio(np.array([1, 2, 3])) == 1.0


def brute_force_longest_repeat(seq: list[int]) -> int:
    n = len(seq)
    for length in range(n - 1, 0, -1):
        seen = set()
        for i in range(n - length + 1):
            window = tuple(seq[i : i + length])
            if window in seen:
                return length
            seen.add(window)
    return 0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 3), min_size=0, max_size=40))
def test_longest_repeat_matches_brute_force(seq):
    assert longest_repeat(np.array(seq, dtype=np.int64)) == brute_force_longest_repeat(seq)


def test_bach_chorale_from_music21():
    from musegen.sources.corpus import chorale_to_piece  # music21.corpus.parse("bach/bwv66.6")

    s = piece_stats(chorale_to_piece("bach/bwv66.6"))
    assert s.n_notes > 100
    assert s.max_polyphony == 4 and 3.0 < s.polyphony <= 4.0  # four voices, mostly all sounding
    assert s.scale_consistency > 0.9  # tonal music stays in its scale
    assert 1.0 < s.mean_interval < 4.0  # the soprano moves mostly by step
    assert share(s.note_length_histogram, "quarter") + share(s.note_length_histogram, "eighth") > 0.6
    assert 2.5 < s.pitch_class_entropy < math.log2(12)


# --- Yang & Lerch ------------------------------------------------------------------------


def test_overlap_area_and_kl_match_closed_forms():
    x = np.linspace(-10, 11, 20_001)
    p, q = norm.pdf(x, 0, 1), norm.pdf(x, 1, 1)
    assert overlap_area(p, p, x) == pytest.approx(1.0, abs=1e-6)
    assert overlap_area(p, q, x) == pytest.approx(2 * norm.cdf(-0.5), abs=1e-6)  # two unit Gaussians 1 apart
    assert overlap_area(p, norm.pdf(x, 9, 0.5), x) < 1e-6
    assert kl_divergence(p, q, x) == pytest.approx(0.5, abs=1e-4)  # (mu1 - mu2)^2 / 2


def test_identical_sets_overlap_almost_fully(chorales):
    result = compare_sets(chorales, chorales)
    assert [f.feature for f in result.features] == list(SET_FEATURES)
    assert min(f.overlap for f in result.features) > 0.85
    assert result.mean_overlap > 0.9
    assert (result.n_generated, result.n_real, result.skipped) == (12, 12, [])


def test_real_music_against_real_music_is_close(chorales):
    assert compare_sets(chorales[:6], chorales[6:]).mean_overlap > 0.6


def test_very_different_sets_overlap_little(chorales):
    rng = np.random.default_rng(0)
    noise = [melody(rng.integers(90, 110, size=100).tolist(), beats=0.25, name=f"noise{i}") for i in range(10)]
    result = compare_sets(noise, chorales, curves=True, points=128)
    by_name = {f.feature: f for f in result.features}
    assert result.mean_overlap < 0.5
    for feature in ("polyphony", "note_length_histogram", "pitch_range", "scale_consistency"):
        assert by_name[feature].overlap < 0.1, feature
    assert by_name["polyphony"].inter_mean > 2.0  # about one voice against four
    curve = by_name["pitch_range"].curve
    assert len(curve["x"]) == len(curve["inter"]) == 128
    assert np.trapezoid(curve["intra_real"], curve["x"]) == pytest.approx(1.0, abs=0.01)
    row = result.rows()[0]
    assert "curve" not in row and set(row) >= {"feature", "overlap", "kl_divergence"}


def test_collapsed_generator_shows_in_generated_overlap(chorales):
    # Copies of one real chorale: close to the data, but no variety among themselves.
    copies = [Piece(f"copy{i}", chorales[0].notes) for i in range(8)]
    result = compare_sets(copies, chorales[1:])
    assert np.mean([f.overlap_generated for f in result.features]) < 0.2
    assert all(f.intra_generated_mean == 0.0 for f in result.features)


def test_sets_need_two_pieces_with_notes(chorales):
    empty = Piece("empty", make_notes([]))
    result = compare_sets([*chorales[:2], empty], chorales[2:5])
    assert result.skipped == ["empty"] and result.n_generated == 2
    with pytest.raises(DatasetError, match="at least 2 pieces"):
        compare_sets([chorales[0], empty], chorales[2:5])
    with pytest.raises(DatasetError, match="Unknown metric"):
        compare_sets(chorales[:2], chorales[2:4], features=("loudness",))


# --- performance features (issue 13) -------------------------------------------------------

PIANO = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "piano"


def test_velocity_mean_and_spread():
    notes = make_notes([(i, i + 1, 60 + i, v) for i, v in enumerate([40, 60, 80, 100])])
    s = piece_stats(Piece("crescendo", notes))
    assert s.velocity_mean == 70.0 and s.velocity_std == pytest.approx(np.std([40, 60, 80, 100]))
    flat = piece_stats(melody([60, 62, 64]))
    assert (flat.velocity_mean, flat.velocity_std) == (90.0, 0.0)
    empty = piece_stats(Piece("nothing", make_notes([])))
    assert (empty.velocity_mean, empty.velocity_std, sum(empty.note_seconds_histogram)) == (0.0, 0.0, 0.0)


def test_note_lengths_in_seconds_follow_the_tempo():
    assert len(SECONDS_LABELS) == len(SECONDS_EDGES) - 1 == 12
    assert SECONDS_EDGES[0] == pytest.approx(0.03) and SECONDS_EDGES[-1] == pytest.approx(4.0)
    quarters = melody([60, 62, 64, 65])  # one beat each
    slow, fast = Piece("slow", quarters.notes, tempo=60.0), Piece("fast", quarters.notes, tempo=240.0)
    at_60, at_240 = piece_stats(slow), piece_stats(fast)
    assert at_60.note_length_histogram == at_240.note_length_histogram  # the beat classes do not hear tempo
    assert at_60.median_note_seconds == pytest.approx(1.0) and at_240.median_note_seconds == pytest.approx(0.25)
    one_second = int(np.searchsorted(SECONDS_EDGES, 1.0) - 1)
    quarter_second = int(np.searchsorted(SECONDS_EDGES, 0.25) - 1)
    assert at_60.note_seconds_histogram[one_second] == 1.0 and at_240.note_seconds_histogram[quarter_second] == 1.0
    # A tempo map: the first two beats at 60 BPM, the rest at 120: two 1 s notes, two 0.5 s notes.
    mapped = Piece("mapped", quarters.notes, tempo=60.0, tempo_map=np.array([[0.0, 60.0], [2.0, 120.0]]))
    hist = piece_stats(mapped).note_seconds_histogram
    assert hist[one_second] == 0.5 and hist[int(np.searchsorted(SECONDS_EDGES, 0.5) - 1)] == 0.5
    # Out of range: a 10 ms grace note counts as the shortest class, an 8 s chord as the longest.
    assert seconds_histogram(np.array([0.01, 8.0, 0.0])) == [0.5] + [0.0] * 10 + [0.5]


def test_excerpt_cuts_by_seconds_through_the_tempo_map():
    piece = Piece("p", melody(list(range(60, 72))).notes, tempo=60.0, tempo_map=np.array([[0.0, 60.0], [4.0, 120.0]]))
    # 4 beats at 60 BPM take 4 s; from 5 s on, beat 6 (120 BPM), for 2 s: beats 6-10.
    cut = excerpt(piece, 5.0, 2.0)
    np.testing.assert_allclose(cut.notes[:, 0], [0, 1, 2, 3])
    assert cut.notes[:, 2].tolist() == [66, 67, 68, 69] and cut.tempo == 120.0
    np.testing.assert_allclose(cut.tempos(), [[0.0, 120.0]])
    whole = excerpt(piece, 1.5, 2.75)  # 1.5-4.25 s, beats 1.5-4.5: notes at 2, 3, 4; the last one cut at 4.5
    assert whole.notes[:, 2].tolist() == [62, 63, 64] and whole.notes[-1, 1] == pytest.approx(3.0)
    np.testing.assert_allclose(whole.tempos(), [[0.0, 60.0], [2.5, 120.0]])
    plain = excerpt(melody([60, 62]), 0.0, 0.5)  # no tempo map: 120 BPM, half a second is one beat
    assert plain.tempo_map is None and plain.notes[:, 2].tolist() == [60]


def test_performance_features_compare_dynamics(chorales):
    assert PIANO_FEATURES == SET_FEATURES + PERFORMANCE_FEATURES
    rng = np.random.default_rng(0)

    def played(piece: Piece, spread: float) -> Piece:
        notes = piece.notes.copy()
        notes[:, 3] = np.clip(rng.normal(70, spread, len(notes)), 1, 127).round()
        return Piece(piece.name, notes, 90.0)

    expressive = [played(p, 20.0) for p in chorales]
    flat = [Piece(p.name, p.notes, 90.0) for p in chorales[:6]]  # all at velocity 90
    close = compare_sets([played(p, 20.0) for p in chorales[:6]], expressive[6:], features=PIANO_FEATURES)
    far = compare_sets(flat, expressive[6:], features=PIANO_FEATURES)
    by_close = {f.feature: f.overlap for f in close.features}
    by_far = {f.feature: f.overlap for f in far.features}
    assert by_far["velocity_std"] < 0.05 and by_far["velocity_mean"] < 0.05
    assert by_close["velocity_std"] > 0.5 and by_close["velocity_mean"] > 0.5
    # The features of issue 7 ignore velocity: their overlaps do not move.
    for feature in SET_FEATURES:
        assert by_close[feature] == pytest.approx(by_far[feature]), feature
    # and the default feature list is still issue 7's
    assert [f.feature for f in compare_sets(flat, expressive[6:]).features] == list(SET_FEATURES)


@pytest.mark.skipif(not PIANO.is_dir(), reason=f"{PIANO} (the real piano MIDI) is absent")
def test_real_piano_has_dynamics_and_pedalled_lengths():
    from musegen.config import DataConfig
    from musegen.sources.ingest import ingest_paths

    files = sorted(PIANO.rglob("*.mid"))[:3]
    with_pedal = ingest_paths(files, DataConfig(sustain_pedal=True)).pieces
    without = ingest_paths(files, DataConfig(sustain_pedal=False)).pieces
    assert len(with_pedal) == len(without) == 3
    for held, dry in zip(with_pedal, without, strict=True):
        s, d = piece_stats(held), piece_stats(dry)
        assert 40 < s.velocity_mean < 100 and s.velocity_std > 5  # played, not sequenced at one loudness
        assert s.median_note_seconds > d.median_note_seconds  # the pedal holds notes longer
        assert sum(s.note_seconds_histogram) == pytest.approx(1.0)
