"""Sampling constraints on real trained models: a key or scale, a pitch range, most notes at once, the
grammar of the tokens. Each holds in every sample, and with no constraint nothing changes."""

from __future__ import annotations

import numpy as np
import pytest

from musegen.config import ConstraintConfig, SamplingConfig
from musegen.errors import ConfigError
from musegen.generation.compose import Composer
from musegen.generation.decode import generate
from musegen.steering.constraints import describe, parse_key, pitch_mask
from tests.generation.steering import most_at_once, pitch_classes, tiny_run, tsd_malformed
from tests.shared import once

C_MAJOR = {0, 2, 4, 5, 7, 9, 11}


# --------------------------------------------------------------------------- keys and masks (no model)


@pytest.mark.parametrize(
    ("name", "tonic", "classes"),
    [
        ("C major", 0, C_MAJOR),
        ("A minor", 9, C_MAJOR),
        ("d minor", 2, {2, 4, 5, 7, 9, 10, 0}),
        ("F# major", 6, {6, 8, 10, 11, 1, 3, 5}),
        ("Bb dorian", 10, {10, 0, 1, 3, 5, 7, 8}),
        ("Eb", 3, {3, 5, 7, 8, 10, 0, 2}),
        ("C pentatonic", 0, {0, 2, 4, 7, 9}),
        ("E harmonic minor", 4, {4, 6, 7, 9, 11, 0, 3}),
        ("G  Mixolydian", 7, {7, 9, 11, 0, 2, 4, 5}),
    ],
)
def test_keys_and_scales_parse_to_their_pitch_classes(name, tonic, classes):
    scale = parse_key(name)
    assert scale.tonic == tonic and scale.pitch_classes == frozenset(classes)


@pytest.mark.parametrize("name", ["H major", "C bebop", "", "major"])
def test_an_unknown_key_says_what_to_write(name):
    with pytest.raises(ConfigError, match=r"e\.g\. 'D minor'"):
        parse_key(name)


def test_the_pitch_mask_is_key_and_range_and_refuses_an_empty_one():
    mask = pitch_mask(ConstraintConfig(key="C major", low=60, high=72))
    assert np.flatnonzero(mask).tolist() == [60, 62, 64, 65, 67, 69, 71, 72]
    assert pitch_mask(ConstraintConfig()).all()
    with pytest.raises(ConfigError, match="widen the pitch range"):
        pitch_mask(ConstraintConfig(key="C major", low=61, high=61))
    with pytest.raises(ConfigError, match="low <= high"):
        pitch_mask(ConstraintConfig(low=80, high=70))
    assert describe(ConstraintConfig(key="d minor", low=48, high=84, max_polyphony=3)) == (
        "in D minor, pitches 48-84, at most 3 notes at once"
    )
    assert describe(None) == "no constraints" and not ConstraintConfig().active


# --------------------------------------------------------------------------- on real trained models


@pytest.fixture(scope="module", params=["timed", "classic", "pianoroll", "nade"])
def composer(request, chorales, tmp_path_factory) -> Composer:
    kind = request.param  # the same runs as tests/generation/test_infill.py's (tests/shared.py)
    return once(("steering", kind), lambda: Composer(tiny_run(kind, chorales[:10], tmp_path_factory.mktemp("runs"))))


def _compose(composer: Composer, constraints: ConstraintConfig | None, seed: int = 3):
    start = composer.seed_from_piece(0, 0, 24)
    sampling = SamplingConfig(length=96, variations=4, temperature=1.2, top_k=0, seed=seed)
    return composer.compose(start, sampling, constraints=constraints).continuations


@pytest.mark.slow
def test_with_no_constraint_nothing_changes(composer):
    plain = _compose(composer, None)
    for off in (ConstraintConfig(), ConstraintConfig(low=0, high=127, max_polyphony=0)):
        again = _compose(composer, off)
        for a, b in zip(plain, again, strict=True):
            np.testing.assert_array_equal(a.notes, b.notes)


@pytest.mark.slow
def test_a_key_holds_in_every_sample(composer):
    unconstrained = set().union(*(pitch_classes(p) for p in _compose(composer, None)))
    assert unconstrained - C_MAJOR  # the chorales in many keys: the model does play outside C major
    pieces = _compose(composer, ConstraintConfig(key="C major"))
    assert sum(p.n_notes for p in pieces) > 0
    for piece in pieces:
        assert pitch_classes(piece) <= C_MAJOR


@pytest.mark.slow
def test_a_pitch_range_holds_in_every_sample(composer):
    for piece in _compose(composer, ConstraintConfig(low=60, high=72)):
        if piece.n_notes:
            assert piece.notes[:, 2].min() >= 60 and piece.notes[:, 2].max() <= 72


@pytest.mark.slow
def test_most_notes_at_once_holds_in_every_sample(composer):
    assert max(most_at_once(p) for p in _compose(composer, None)) > 2
    pieces = _compose(composer, ConstraintConfig(max_polyphony=2))
    assert sum(p.n_notes for p in pieces) > 0
    for piece in pieces:
        assert most_at_once(piece) <= 2


@pytest.mark.slow
def test_all_the_rules_at_once_never_corner_a_sequence(composer):
    rules = ConstraintConfig(key="D minor", low=50, high=74, max_polyphony=1, grammar=True)
    rep = composer.rep
    seed = composer.seed_from_piece(1, 0, 16)
    sampling = SamplingConfig(length=120, variations=3, temperature=1.5, top_k=0, seed=5)
    constraint = rep.constraint(rules, sampling.variations)
    outputs = generate(composer.model, rep.check_seed(seed.ids), sampling, rep.sample, constraint=constraint)
    assert constraint.fallbacks == 0
    for ids in outputs:
        piece = rep.decode(ids)
        assert pitch_classes(piece) <= {2, 4, 5, 7, 9, 10, 0}
        assert most_at_once(piece) <= 1
        if piece.n_notes:
            assert piece.notes[:, 2].min() >= 50 and piece.notes[:, 2].max() <= 74


@pytest.mark.slow
def test_the_grammar_mask_makes_every_token_sequence_well_formed(chorales, tmp_path):
    composer = Composer(tiny_run("timed", chorales[:10], tmp_path, epochs=1))  # one epoch: a sloppy model
    rep, max_steps = composer.rep, composer.rep.tokenizer.max_steps
    sampling = SamplingConfig(length=160, variations=6, temperature=2.0, top_k=0, seed=11)
    start = composer.seed_from_piece(0, 0, 9)
    seed_tokens = rep.vocab.decode(start.ids[1:])
    raw = generate(composer.model, start.ids, sampling, rep.sample)
    assert any(tsd_malformed(seed_tokens + rep.vocab.decode(ids), max_steps) for ids in raw)  # without the mask
    constraint = rep.constraint(ConstraintConfig(grammar=True), sampling.variations)
    for ids in generate(composer.model, start.ids, sampling, rep.sample, constraint=constraint):
        tokens = seed_tokens + rep.vocab.decode(ids)
        if tokens[-1].startswith("Pitch_"):  # the length limit may fall between a pitch and its duration
            tokens = tokens[:-1]
        assert tsd_malformed(tokens, max_steps) == []
    assert constraint.fallbacks == 0


@pytest.mark.slow
def test_a_chord_progression_holds_in_every_sample(composer):
    from musegen.steering.chords import chord_tone_share, parse_progression
    from tests.generation.test_chords import off_chord

    rules = ConstraintConfig(chords="C | Am | F G7 | C", grammar=composer.rep.unit != "frame")
    if composer.rep.name == "classic":
        with pytest.raises(ConfigError, match="the classic tokens have no beats"):
            _compose(composer, rules)
        return
    progression = parse_progression(rules.chords)
    pieces = _compose(composer, rules)
    assert sum(p.n_notes for p in pieces) > 0
    assert all(off_chord(p, progression) == [] for p in pieces)
    assert chord_tone_share(_compose(composer, None), progression) < 1.0
