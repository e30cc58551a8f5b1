"""Chords you type (issue 35): the progression parser, the chord rule on random draws of every representation
(no model: the rule holds whatever the model wants), and on the committed demo model (no training): hard mode
holds in every sample, the bass, passing tones, the soft bias, infilling over chords, and with no progression
nothing changes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from musegen.config import ConstraintConfig, DataConfig, SamplingConfig
from musegen.errors import ConfigError
from musegen.generation.compose import Composer
from musegen.notes import PITCH, START, Piece
from musegen.representations.pianoroll import PianoRollRepresentation
from musegen.representations.registry import for_config
from musegen.steering.chords import Progression, chord_tone_share, chord_tone_shares, parse_chord, parse_progression
from musegen.steering.constraints import ChordChoice, constraint_choice, describe

DEMO = Path(__file__).resolve().parents[2] / "assets" / "models" / "demo-lstm"
POP = "C | Am | F G7 | C"


def off_chord(piece: Piece, progression: Progression, origin: float = 0.0, strong_only: bool = False) -> list:
    """(start, pitch, chord) of every note begun under a chord that is not one of its tones."""
    out = []
    for start, pitch in zip(piece.notes[:, START].tolist(), piece.notes[:, PITCH].tolist(), strict=True):
        _, span = progression.locate(start - origin)
        if span is None or span.chord is None or (strong_only and not progression.is_strong(start - origin)):
            continue
        if int(pitch) % 12 not in span.chord.tones:
            out.append((start, int(pitch), span.label))
    return out


def bass_misses(piece: Piece, progression: Progression) -> list:
    """(chord, lowest pitch) of every chord whose first onset's lowest note is not on its bass."""
    first: dict[int, tuple[float, int, object]] = {}
    for start, pitch in zip(piece.notes[:, START].tolist(), piece.notes[:, PITCH].tolist(), strict=True):
        index, span = progression.locate(start)
        if span is None or span.chord is None:
            continue
        best = first.get(index)
        if best is None or (start, pitch) < best[:2]:
            first[index] = (start, int(pitch), span.chord)
    return [(c.symbol, p) for _, p, c in first.values() if p % 12 != c.bass]


# --------------------------------------------------------------------------- the parser (pure Python)


def test_bars_beats_slash_chords_and_no_chord_parse_to_spans():
    p = parse_progression("Dm7 G7 | Cmaj7 | F / / G | % | N.C. | C/E", beats_per_bar=4)
    spans = [(s.start, s.end, s.label) for s in p.spans]
    assert spans == [
        (0, 2, "Dm7"), (2, 4, "G7"), (4, 8, "Cmaj7"), (8, 11, "F"), (11, 12, "G"), (12, 15, "F"), (15, 16, "G"),
        (16, 20, "N.C."), (20, 24, "C/E"),
    ]  # fmt: skip
    assert p.beats == 24 and p.bars == 6
    assert parse_chord("C/E").bass == 4 and parse_chord("C/E").tones == {0, 4, 7}
    assert parse_chord("G7").tones == {7, 11, 2, 5} and parse_chord("N.C.") is None
    assert parse_chord("Bb7").tones == {10, 2, 5, 8}  # music21 alone reads "Bb7" as B with a flat seventh
    assert parse_chord("F#m7b5").tones == {6, 9, 0, 4} and parse_chord("Am/G").bass == 7
    assert [s.end for s in parse_progression("C Am F", beats_per_bar=3).spans] == [1, 2, 3]


def test_a_progression_repeats_or_plays_once_and_knows_its_strong_beats():
    looped, once = parse_progression(POP), parse_progression(POP, repeat=False)
    assert looped.locate(17.0)[1].label == "C" and looped.locate(17.0)[0] == 5  # the second time round
    assert once.locate(17.0) == (-1, None) and once.locate(-1.0) == (-1, None)
    assert [looped.is_strong(b) for b in (0, 1, 2, 3, 0.5, 10, 11)] == [True, False, True, False, False, True, False]
    assert looped.placed(8.0, 14.0) == [(8.0, 12.0, "C"), (12.0, 14.0, "Am")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("C | Hm7 | G", r"bar 2 \(Hm7\): 'Hm7' is not a chord symbol: it must begin with a root"),
        ("C | Cxyz", r"'Cxyz' is not a chord symbol music21 knows: 'xyz' is not a chord quality"),
        ("C | | G", "bar 2 is empty"),
        ("C / | G", "has 2 beats written with slashes; a bar has 4"),
        ("% | C", "the first bar is '%'"),
        ("", "the chord progression is empty"),
    ],
    ids=["bad-root", "bad-quality", "empty-bar", "short-bar", "first-repeat", "empty"],
)
def test_a_bad_progression_names_what_is_wrong(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_progression(text)


def test_the_choice_checks_the_chords_against_the_key_and_the_range():
    cfg = constraint_choice(key="C major", chords=ChordChoice("C | Am |  F G7", mode="soft", strength=1.5))
    assert cfg.chords == "C | Am | F G7" and cfg.active and cfg.chord_mode == "soft"
    assert (
        describe(cfg)
        == "in C major, well-formed tokens, over C | Am | F G7 (soft, strength 1.5, 4 beats a bar, repeated)"
    )
    with pytest.raises(ConfigError, match=r"no tone of F#m \(F# A C#\) is among the key and the pitch range"):
        constraint_choice(key="C major", low=60, high=62, chords=ChordChoice("C | F#m"))
    with pytest.raises(ConfigError, match="the bass of C/E"):
        constraint_choice(low=60, high=62, chords=ChordChoice("C/E", bass=True))
    with pytest.raises(ConfigError, match="chord_mode must be one of hard, soft"):
        constraint_choice(chords=ChordChoice("C", mode="loud"))
    assert constraint_choice(chords=ChordChoice("  ")).chords == ""  # no text: no chord rule


def test_chord_tone_shares_count_onsets_bar_by_bar():
    notes = np.array([[0, 1, 60, 80], [1, 2, 62, 80], [4, 5, 69, 80], [9, 10, 65, 80], [10.5, 11, 71, 80]], float)
    rows = chord_tone_shares(Piece("p", notes), parse_progression(POP))
    assert rows == [
        {"bar": 1, "chords": "C", "onsets": 2, "chord_tones": 1, "share": 0.5},
        {"bar": 2, "chords": "Am", "onsets": 1, "chord_tones": 1, "share": 1.0},
        {"bar": 3, "chords": "F G7", "onsets": 2, "chord_tones": 2, "share": 1.0},
    ]
    assert chord_tone_share([Piece("p", notes)], parse_progression(POP)) == pytest.approx(0.8)


# --------------------------------------------------------------------------- every representation, random draws


def _random_draws(rep, cfg: ConstraintConfig, steps: int = 400, batch: int = 4) -> tuple[list[Piece], object]:
    """``steps`` draws of random logits through ``rep``'s constraint: what any model would be held to."""
    constraint = rep.constraint(cfg, batch)
    constraint.prime(np.tile(rep.start()[None], (batch,) + (1,) * rep.start().ndim))
    draw = constraint.wrap(rep.sample)
    rng, sampling = np.random.default_rng(0), SamplingConfig(temperature=1.0, top_k=0)
    width = rep.output_width()
    out = [draw(rng.normal(0, 2, (batch, width)), sampling, rng) for _ in range(steps)]
    return [rep.decode(np.stack(out, axis=1)[r]) for r in range(batch)], constraint


@pytest.mark.parametrize("kind", ["timed", "performance", "pianoroll"])
def test_hard_chords_hold_on_random_draws_of_every_representation(kind):
    rep = PianoRollRepresentation(4) if kind == "pianoroll" else for_config(DataConfig(representation=kind))
    if kind == "timed":
        rep = Composer(DEMO).rep  # a real vocabulary: the demo's pitches
    progression = parse_progression(POP)
    pieces, constraint = _random_draws(rep, ConstraintConfig(chords=POP, grammar=True, low=36, high=96))
    assert constraint.fallbacks == 0 and sum(p.n_notes for p in pieces) > 20
    plain, _ = _random_draws(rep, ConstraintConfig(grammar=True, low=36, high=96))
    assert any(off_chord(p, progression) for p in plain)  # random draws do stray off the chords
    for piece in pieces:  # a piano-roll key held over a chord change began under the chord before
        assert off_chord(piece, progression) == []
    bass, constraint = _random_draws(rep, ConstraintConfig(chords=POP, grammar=True, chord_bass=True, max_polyphony=6))
    assert constraint.fallbacks == 0 and all(bass_misses(p, progression) == [] for p in bass)
    assert any(bass_misses(p, progression) for p in plain)  # random draws miss the bass without the rule


def test_classic_tokens_have_no_chords():
    with pytest.raises(ConfigError, match="the classic tokens have no beats"):
        for_config(DataConfig(representation="classic")).constraint(ConstraintConfig(chords="C"), 1)


# --------------------------------------------------------------------------- the committed demo model


@pytest.fixture(scope="module")
def demo() -> Composer:
    return Composer(DEMO)


def _compose(demo: Composer, cfg: ConstraintConfig | None, length: int = 96) -> list[Piece]:
    seed = demo.seed_from_piece(0, 0, 24)
    sampling = SamplingConfig(length=length, variations=4, temperature=1.1, top_k=0, seed=3)
    return demo.compose(seed, sampling, constraints=cfg).continuations


def test_hard_chords_hold_in_every_sample_of_a_trained_model(demo):
    progression = parse_progression(POP)
    assert chord_tone_share(_compose(demo, None), progression) < 0.8  # left alone the model strays
    for piece in _compose(demo, ConstraintConfig(chords=POP, chord_bass=True, grammar=True, key="C major")):
        assert piece.n_notes > 10 and off_chord(piece, progression) == [] and bass_misses(piece, progression) == []
    for piece in _compose(demo, ConstraintConfig(chords=POP, passing_tones=True)):
        assert off_chord(piece, progression, strong_only=True) == []


def test_the_soft_rule_leans_towards_chord_tones_by_its_strength(demo):
    progression = parse_progression(POP)
    shares = [
        chord_tone_share(_compose(demo, ConstraintConfig(chords=POP, chord_mode="soft", chord_strength=s)), progression)
        for s in (0.0, 1.0, 4.0)
    ]
    assert shares[0] == chord_tone_share(_compose(demo, None), progression)  # strength 0: the model alone
    assert shares[0] < shares[1] < shares[2]


def test_with_no_progression_nothing_changes(demo):
    key = _compose(demo, ConstraintConfig(key="C major"))
    for same in (ConstraintConfig(key="C major", chords=""), ConstraintConfig(key="C major", chords="N.C. | N.C.")):
        for a, b in zip(key, _compose(demo, same), strict=True):
            np.testing.assert_array_equal(a.notes, b.notes)


def test_fill_bars_5_to_8_over_chords(demo):
    piece = demo.seed_from_piece(0, 0, 10_000).piece
    sampling = SamplingConfig(length=200, variations=3, temperature=1.1, top_k=0, seed=2)
    rules = ConstraintConfig(chords="F | G | Em | Am", grammar=True)
    result = demo.infill(piece, 16.0, 32.0, sampling, constraints=rules)
    progression = parse_progression("F | G | Em | Am")
    assert sum(m.n_notes for m in result.middles) > 0
    for middle in result.middles:  # timed from the span's start, where the progression starts
        assert off_chord(middle, progression) == []
        assert middle.notes[:, START].max() < 16.0
