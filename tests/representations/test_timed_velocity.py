"""Velocity in the timed tokens: Pitch, Velocity, Duration per note; learned, generated, constrained, infilled."""

from __future__ import annotations

import numpy as np
import pytest

from musegen.config import ConstraintConfig, DataConfig, ModelConfig, RunConfig, SamplingConfig, TrainConfig
from musegen.datasets.dataset import build_dataset
from musegen.generation.compose import Composer
from musegen.notes import DEFAULT_VELOCITY, VELOCITY, Piece, make_notes, velocity_levels
from musegen.representations.registry import for_config, for_vocab
from musegen.representations.timed import TimedTokenizer
from musegen.vocabulary import Vocabulary
from tests.generation.steering import tsd_malformed


def _dynamic_piece(name: str = "p", n: int = 96, seed: int = 0) -> Piece:
    """Eighth notes in a rising and falling line whose loudness swells with the bar (30 .. 110)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        vel = 30 + 80 * (i % 8) / 7
        pitch = 60 + [0, 2, 4, 5, 7, 5, 4, 2][i % 8] + int(rng.integers(0, 2)) * 12
        rows.append((i / 2, i / 2 + 0.5, pitch, round(vel)))
    return Piece(name, make_notes(rows))


def _strip_velocity(tokens: list[str]) -> list[str]:
    return [t for t in tokens if not t.startswith("Velocity_")]


def test_without_velocity_the_vocabulary_and_tokens_are_what_they_were():
    plain, explicit = for_config(DataConfig()), for_config(DataConfig(velocity=False, velocity_bins=16))
    assert plain.vocab.tokens == explicit.vocab.tokens and "velocity_bins" not in plain.vocab.meta
    assert not any(t.startswith("Velocity_") for t in plain.vocab.tokens)
    assert len(plain.vocab) == 3 + 16 + 128 + 16  # specials, shifts, pitches, durations (4 beats of sixteenths)
    piece = _dynamic_piece()
    assert plain.decode(plain.encode(piece)).notes[:, VELOCITY].tolist() == [DEFAULT_VELOCITY] * piece.n_notes


def test_velocity_tokens_follow_each_pitch_and_come_back_as_their_level():
    rep = for_config(DataConfig(velocity=True))
    plain = for_config(DataConfig())
    vocab = rep.vocab
    assert vocab.tokens[: len(plain.vocab)] == plain.vocab.tokens  # old ids do not move
    assert vocab.tokens[len(plain.vocab) :] == [f"Velocity_{v}" for v in velocity_levels(32)]
    assert vocab.meta["velocity_bins"] == 32
    piece = _dynamic_piece()
    tokens = rep.tokens(piece)
    for i, token in enumerate(tokens):
        if token.startswith("Pitch_"):
            assert tokens[i + 1].startswith("Velocity_") and tokens[i + 2].startswith("Duration_")
    assert _strip_velocity(tokens) == plain.tokens(piece)
    back = rep.decode(rep.encode(piece))
    levels = velocity_levels(32)
    want = levels[np.abs(piece.notes[:, VELOCITY][:, None] - levels).argmin(axis=1)]
    np.testing.assert_array_equal(back.notes[:, VELOCITY], want)
    np.testing.assert_allclose(back.notes[:, :3], piece.notes[:, :3])
    again = for_vocab(Vocabulary.from_dict(vocab.to_dict()))  # a run folder's vocab.json
    assert again.tokenizer.velocity_bins == 32 and again.vocab.tokens == vocab.tokens
    assert "velocity" in again.unit_help()


def test_the_duration_tokens_are_drawn_at_their_own_temperature():
    for cfg in (DataConfig(velocity=True), DataConfig(velocity=False)):
        rep = for_config(cfg)
        ids = set(rep.duration_ids().tolist())
        assert rep.has_duration_tokens() and ids
        assert ids == {i for i, t in enumerate(rep.vocab.tokens) if t.startswith("Duration_")}
    performance = for_config(DataConfig(representation="performance"))  # lengths are in its time shifts
    assert not performance.has_duration_tokens() and not len(performance.duration_ids())


def test_velocity_repairs_are_never_fatal():
    tok = TimedTokenizer(4, 16, velocity_bins=32)
    piece = tok.detokenize(["Velocity_64", "Pitch_60", "Duration_4", "Pitch_62", "Velocity_99", "Velocity_20"])
    assert piece.notes[:, VELOCITY].tolist() == [DEFAULT_VELOCITY, 20]  # stray velocity skipped; the last one holds
    assert piece.notes[1, 1] - piece.notes[1, 0] == 1.0  # a pitch without its duration lasts a beat
    assert tok.detokenize(["Velocity_300", "Velocity_0", "Pitch_60", "Velocity_0", "Duration_2"]).notes[0, 3] == 80


def test_fill_in_the_middle_parts_keep_velocity():
    rep = for_config(DataConfig(velocity=True, fim_rate=0.5))
    ids = rep.encode(_dynamic_piece())
    parts = rep.fim_split(ids, np.random.default_rng(3))
    assert parts is not None
    middle = rep.vocab.decode(parts[2])
    assert any(t.startswith("Velocity_") for t in middle) or not any(t.startswith("Pitch_") for t in middle)
    plan = rep.infill_plan(_dynamic_piece(), 8.0, 16.0, 128)
    assert any(t.startswith("Velocity_") for t in rep.vocab.decode(plan.truth))


def test_the_grammar_constraint_knows_the_velocity_step_and_never_corners():
    rep = for_config(DataConfig(velocity=True))
    rules = ConstraintConfig(key="D minor", max_polyphony=3, grammar=True)
    constraint = rep.constraint(rules, 4)
    rng = np.random.default_rng(0)
    drawn: list[list[int]] = [[] for _ in range(4)]
    for _ in range(400):
        mask = constraint.allowed()
        logits = np.where(mask, rng.normal(size=mask.shape), -np.inf)
        pick = logits.argmax(axis=1)
        constraint.observe(pick)
        for r in range(4):
            drawn[r].append(int(pick[r]))
    assert constraint.fallbacks == 0
    for row in drawn:
        tokens = rep.vocab.decode(np.array(row))
        tokens = tokens[: max(i for i, t in enumerate(tokens) if t.startswith("Duration_")) + 1]  # a whole note last
        assert any(t.startswith("Velocity_") for t in tokens)
        assert tsd_malformed(_strip_velocity(tokens), rep.tokenizer.max_steps) == []
        for i, token in enumerate(tokens[:-2]):
            if token.startswith("Pitch_"):
                assert tokens[i + 1].startswith("Velocity_") and tokens[i + 2].startswith("Duration_"), tokens[
                    i : i + 3
                ]


@pytest.mark.slow
def test_a_run_with_velocity_learns_and_plays_dynamics(tmp_path):
    from musegen import runs
    from musegen.training.loop import train

    config = RunConfig(
        data=DataConfig(velocity=True, window=48, stride=24, val_fraction=0.2, fim_rate=0.3),
        model=ModelConfig(arch="lstm", embed_dim=16, units=48, layers=1),
        train=TrainConfig(epochs=4, batch_size=16, learning_rate=1e-2, patience=0, seed=0),
    )
    data = build_dataset([_dynamic_piece(f"p{i}", 160, seed=i) for i in range(6)], config.data)
    run_dir = runs.create_run(tmp_path, config, data.vocab)
    train(config, data, run_dir, evaluate=False)
    composer = Composer(run_dir)
    seed = composer.seed_from_piece(0, 0, 24)
    comp = composer.compose(
        seed, SamplingConfig(length=120, seed=2, variations=2), constraints=ConstraintConfig(grammar=True)
    )
    for piece in comp.continuations:
        assert piece.n_notes >= 10
        assert len(np.unique(piece.notes[:, VELOCITY])) >= 3  # it plays louder and softer
        # levels only (a last pitch cut off before its velocity plays at the default)
        assert set(piece.notes[:, VELOCITY].astype(int)) <= {*velocity_levels(32).tolist(), DEFAULT_VELOCITY}
    wav_midi = comp.midi(0)
    assert len({n.velocity for n in wav_midi.instruments[-1].notes}) >= 3  # the MIDI (and the audio) carry it
    infilled = composer.infill(comp.joined(0), 4.0, 8.0, SamplingConfig(length=64, seed=1))
    middle = infilled.middles[0]
    assert middle.n_notes >= 3 and set(middle.notes[:, VELOCITY].astype(int)) <= set(velocity_levels(32).tolist())
    assert len(np.unique(middle.notes[:, VELOCITY])) >= 2  # the middle's notes carry their own velocities
